/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_SETTINGS_24_H
#define DOVECOT_SETTINGS_24_H
#endif
