/* SPDX-License-Identifier: MIT */
/* The Dovecot 2.4.2+ auth API (lib-sasl: sasl-server-oauth2.h,
   auth-sasl.h): the slot for its adapter (dovecot-api.h says what it
   provides). Not written yet: configure picks it only when the headers have
   sasl-server-oauth2.h, and the build then stops here. */

#error "the Dovecot 2.4.2+ adapter (dovecot-api-242.c) is not written yet"
