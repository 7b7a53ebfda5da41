/* SPDX-License-Identifier: MIT */
/* placeholder: the Dovecot 2.4.0-2.4.1 adapter (next commit) */
#error "not written yet"
