/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_API_242_H
#define DOVECOT_API_242_H

/* What dovecot-api-242.c and mech-oauth2-bearer-242.c (the Dovecot 2.4.2+
   API, lib-sasl) share: our two mechanism definitions. */

#include "sasl-server-protected.h"

extern const struct sasl_server_mech_def moa2_mech_xoauth2_def;
extern const struct sasl_server_mech_def moa2_mech_oauthbearer_def;

#endif
