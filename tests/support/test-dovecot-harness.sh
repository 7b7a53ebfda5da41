#!/bin/sh
# SPDX-License-Identifier: MIT
# Self-test of the Dovecot harness tests/integration/lib/dovecot.sh with a
# stock Dovecot (no plugin: passdb static, password "secret"), as root:
#   tests/support/test-dovecot-harness.sh              the host's Dovecot
#   DOVECOT_CHROOT=build/chroots/trixie tests/support/test-dovecot-harness.sh
#                                                      a chroot's Dovecot
# Dovecot (dovecot_start, the config of dovecot_write_conf in the syntax of
# its version) serves IMAP, POP3, submission and LMTP; the host's Python
# imaplib/poplib/smtplib log in; doveadm auth test runs where Dovecot runs;
# the host's Postfix authenticates through Dovecot's auth-postfix socket
# (smtpd_sasl_type = dovecot) and delivers over LMTP into Dovecot, and the
# message reads back over IMAP; Dovecot submission relays through Postfix.
# Afterwards nothing of the chroot stays mounted.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib/common.sh"
. "$ILIB/dovecot.sh"
LOGIN="python3 $ILIB/mail-login.py"
ALICE=alice@example.test
chmod 711 "$WORK"
OUT=$WORK/out
mkdir -p "$OUT"

if ! dovecot_setup "$WORK/dovecot" ""; then
	not_ok "dovecot_setup" "$DOVECOT_SETUP_ERROR"
	summary dovecot-harness
fi
ok "dovecot_setup: Dovecot $DOVECOT_VERSION (API $DOVECOT_API)${DOVECOT_CHROOT:+ in $DOVECOT_CHROOT}"
dovecot_ports
if [ "$DOVECOT_API" = 2.4 ]; then
	passdb='passdb static {
  password = secret
}'
else
	passdb='passdb {
  driver = static
  args = password=secret
}'
fi
dovecot_write_conf "auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
$passdb"
if dovecot_cmd doveconf -c "$DV/dovecot.conf" -n >"$OUT/doveconf.out" 2>&1; then
	ok "doveconf accepts the config of dovecot_write_conf"
else
	not_ok "doveconf accepts the config" "$(cat "$OUT/doveconf.out")"
fi
if dovecot_start; then
	ok "Dovecot up (pid $DOVECOT_PID): $(sed -n 's/.*master: Info: \(Dovecot v[^ ]*\).*/\1/p' "$DV/dovecot.log" | tail -n 1)"
else
	not_ok "Dovecot starts" "$(cat "$DV/start.out" "$DV/dovecot.log" 2>/dev/null | tail -n 20)"
	summary dovecot-harness
fi
if [ -n "${DOVECOT_CHROOT:-}" ]; then
	check_eq "the master's root is the chroot" "$(readlink "/proc/$DOVECOT_PID/root")" "$DOVECOT_CHROOT"
fi

# login PROTO PORT PASSWORD [ARG...]: mail-login.py, PLAIN
login() {
	_l_proto=$1
	_l_port=$2
	_l_pw=$3
	shift 3
	printf '%s\n' "$_l_pw" | $LOGIN "$_l_proto" 127.0.0.1 "$_l_port" --mech PLAIN --user "$ALICE" \
		"$@" >"$OUT/login.out" 2>&1
}
login imap "$P_IMAP" secret
check_eq "imaplib PLAIN from the host: logged in" "$?" 0
login imap "$P_IMAP" wrong --src 127.0.0.2
check_eq "imaplib PLAIN, wrong password: NO" "$?" 1
grep -q '^result: NO \[AUTHENTICATIONFAILED\]' "$OUT/login.out" &&
	ok "... [AUTHENTICATIONFAILED]" || not_ok "... [AUTHENTICATIONFAILED]" "$(cat "$OUT/login.out")"
if python3 -c '
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user(sys.argv[2]); p.pass_("secret"); print(p.stat()); p.quit()' "$P_POP3" "$ALICE" >"$OUT/pop3.out" 2>&1; then
	ok "poplib USER/PASS from the host: logged in"
else
	not_ok "poplib USER/PASS" "$(cat "$OUT/pop3.out")"
fi
dovecot_cmd doveadm -c "$DV/dovecot.conf" auth test "$ALICE" secret >"$OUT/doveadm.out" 2>&1
check_eq "doveadm auth test (where Dovecot runs): exit 0" "$?" 0
dovecot_cmd doveadm -c "$DV/dovecot.conf" auth test "$ALICE" wrong >"$OUT/doveadm.out" 2>&1
check_eq "doveadm auth test, wrong password: exit 77" "$?" 77

dovecot_postfix_conf "$WORK/postfix"
if dovecot_postfix_start; then
	ok "the host's Postfix up (pid $POSTFIX_PID), SASL through $DV/run/auth-postfix"
	subject="harness $$ $(date +%s)"
	login smtp "$P_SMTPD" secret --send-subject "$subject"
	check_eq "smtplib AUTH PLAIN at Postfix (Dovecot SASL), message sent" "$?" 0
	login imap "$P_IMAP" secret --wait-subject "$subject"
	check_eq "... delivered over LMTP into Dovecot, reads back over IMAP" "$?" 0
	subject2="harness-subm $$ $(date +%s)"
	login smtp "$P_SUBM" secret --send-subject "$subject2"
	check_eq "smtplib AUTH PLAIN at Dovecot submission, relayed by Postfix" "$?" 0
	login imap "$P_IMAP" secret --wait-subject "$subject2"
	check_eq "... and that message reads back over IMAP" "$?" 0
	dovecot_postfix_stop
else
	not_ok "Postfix starts" "$(cat "$PF/start.out" "$PF/maillog" 2>/dev/null | tail -n 20)"
fi

if dovecot_stop; then
	ok "Dovecot stops"
else
	not_ok "Dovecot stops" "pid $DOVECOT_PID"
fi
if [ -n "${DOVECOT_CHROOT:-}" ]; then
	check_eq "nothing of the chroot mounted in any namespace" \
		"$(grep -l -F " $DOVECOT_CHROOT/" /proc/[0-9]*/mountinfo 2>/dev/null)" ""
	[ -d "$DOVECOT_CHROOT$WORK" ] && not_ok "the chroot's mount point of WORK is removed" ||
		ok "the chroot's mount point of WORK is removed"
fi
check "the Dovecot log has no error" sh -c '! grep -E "(Error|Fatal|Panic):" "$1"' sh "$DV/dovecot.log"
summary dovecot-harness
