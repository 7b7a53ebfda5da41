#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test-only SASL logins with Python's own imaplib and smtplib (clients
nobody in this project wrote), for the Dovecot/Postfix integration tests.

  mail-login.py imap|smtp HOST PORT [options]   (the token on stdin)

  --mech XOAUTH2|OAUTHBEARER|PLAIN   mechanism (default XOAUTH2)
  --user U          XOAUTH2 user= / PLAIN authcid
  --authzid A       OAUTHBEARER a= (omit: no authzid, RFC 7628 allows it)
  --src IP          local source address (Dovecot's auth penalty is per IP)
  --double-b64      return base64 from the callback, as the widely copied
                    imaplib example does (imaplib/smtplib encode it again)
  --empty-ack       answer an OAUTHBEARER failure challenge with an empty
                    line instead of ^A (as msmtp and Mail::IMAPClient do)
  --raw TEXT        send TEXT verbatim as the response line (IMAP only;
                    e.g. invalid base64)
  --list-subjects   IMAP: after login, print "subject: S" per INBOX message
  --wait-subject S  IMAP: poll INBOX up to 15 s until a message with S
  --show-replies    print every line the server sends as "S: LINE" (the
                    client's lines, which carry the token, never)
  --send-subject S  SMTP: after login, send a message with subject S from
                    --user to --user
  --no-initial-response
                    SMTP: "AUTH MECH" alone, the response after the empty
                    334 (Dovecot 2.3 submission refuses an AUTH line with a
                    JWT in it: "500 5.5.2 Line too long")

Prints "challenge: TEXT" for every non-empty server challenge (decoded),
"result: OK", "result: NO TEXT" or "result: TEMPFAIL TEXT".
Exit status: 0 logged in, 1 authentication failed, 2 temporary failure,
3 any other error.
"""
import argparse, base64, imaplib, smtplib, socket, sys, time


def response_for(args, token):
    if args.mech == "XOAUTH2":
        raw = "user=%s\x01auth=Bearer %s\x01\x01" % (args.user, token)
    elif args.mech == "OAUTHBEARER":
        gs2 = "n,a=%s," % args.authzid.replace("=", "=3D").replace(",", "=2C") \
            if args.authzid is not None else "n,,"
        raw = "%s\x01host=%s\x01port=%s\x01auth=Bearer %s\x01\x01" % (
            gs2, args.host, args.port, token)
    else:
        raw = "\x00%s\x00%s" % (args.user, token)
    data = raw.encode()
    if args.double_b64:
        data = base64.b64encode(data)
    return data


class Authenticator:
    """The callback imaplib/smtplib call: the first call gets the
    credentials, later ones (failure challenges) the acknowledgement."""

    def __init__(self, args, token, text=False):
        self.args = args
        self.token = token
        self.text = text  # smtplib wants str, imaplib takes bytes
        self.calls = 0

    def _out(self, data):
        return data.decode("latin-1") if self.text else data

    def __call__(self, challenge=None):
        self.calls += 1
        if challenge:
            text = challenge.decode("utf-8", "replace") \
                if isinstance(challenge, bytes) else challenge
            print("challenge: %s" % text)
        if self.calls == 1:
            return self._out(response_for(self.args, self.token))
        # the failure acknowledgement: XOAUTH2 empty, OAUTHBEARER ^A
        return self._out(b"\x01" if self.args.mech == "OAUTHBEARER" and
                         not self.args.empty_ack else b"")


class SourceIMAP(imaplib.IMAP4):
    def __init__(self, host, port, src, show_replies=False):
        self.src = src
        self.show_replies = show_replies
        super().__init__(host, port, timeout=30)

    def _get_line(self):
        line = super()._get_line()
        if self.show_replies:
            print("S: %s" % line.decode("utf-8", "replace"), flush=True)
        return line

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0) if self.src else None)


def imap_result(text):
    if "[UNAVAILABLE]" in text:
        print("result: TEMPFAIL %s" % text)
        return 2
    print("result: NO %s" % text)
    return 1


class RawResponse:
    """imaplib sends what a bound method named literal returns, verbatim."""

    def __init__(self, raw):
        self.raw = raw.encode()

    def process(self, _continuation):
        return self.raw


def imap_raw_authenticate(m, mech, raw):
    m.literal = RawResponse(raw).process
    return m._simple_command("AUTHENTICATE", mech)


def imap_subjects(m):
    typ, data = m.select("INBOX")
    if typ != "OK":
        return None
    typ, data = m.search(None, "ALL")
    subjects = []
    for num in data[0].split():
        typ, msg = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        for part in msg:
            if isinstance(part, tuple):
                line = part[1].decode("utf-8", "replace").strip()
                subjects.append(line.split(":", 1)[1].strip() if ":" in line else line)
    return subjects


def run_imap(args, token):
    m = SourceIMAP(args.host, args.port, args.src, args.show_replies)
    try:
        if args.raw is not None:
            typ, dat = imap_raw_authenticate(m, args.mech, args.raw)
        else:
            typ, dat = m.authenticate(args.mech, Authenticator(args, token))
    except imaplib.IMAP4.error as e:
        return imap_result(str(e))
    if typ != "OK":
        return imap_result(" ".join(d.decode() for d in dat if d))
    print("result: OK")
    if args.wait_subject:
        deadline = time.time() + 15
        while True:
            subjects = imap_subjects(m) or []
            if args.wait_subject in subjects:
                print("subject: %s" % args.wait_subject)
                break
            if time.time() > deadline:
                print("subject not found: %s (have %s)" % (args.wait_subject, subjects))
                return 3
            m.close()
            time.sleep(0.5)
    elif args.list_subjects:
        for s in imap_subjects(m) or []:
            print("subject: %s" % s)
    m.logout()
    return 0


class ShowSMTP(smtplib.SMTP):
    show_replies = False

    def getreply(self):
        code, msg = super().getreply()
        if self.show_replies:
            lines = msg.decode("utf-8", "replace").split("\n")
            for i, line in enumerate(lines):
                print("S: %d%s%s" % (code, "-" if i < len(lines) - 1 else " ", line),
                      flush=True)
        return code, msg


def run_smtp(args, token):
    ShowSMTP.show_replies = args.show_replies
    s = ShowSMTP(args.host, args.port, timeout=30,
                 source_address=(args.src, 0) if args.src else None)
    s.ehlo("client.example.test")
    try:
        # with an initial response (AUTH MECH base64), as most MUAs do
        s.auth(args.mech, Authenticator(args, token, text=True),
               initial_response_ok=not args.no_initial_response)
    except smtplib.SMTPAuthenticationError as e:
        text = "%d %s" % (e.smtp_code, e.smtp_error.decode("utf-8", "replace"))
        if e.smtp_code == 454 or str(e.smtp_code).startswith("4"):
            print("result: TEMPFAIL %s" % text)
            return 2
        print("result: NO %s" % text)
        return 1
    print("result: OK")
    if args.send_subject:
        s.sendmail(args.user, [args.user],
                   "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nSent with an OAuth 2.0 access token.\r\n"
                   % (args.user, args.user, args.send_subject))
        print("sent: %s" % args.send_subject)
    s.quit()
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("proto", choices=["imap", "smtp"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--mech", default="XOAUTH2")
    p.add_argument("--user")
    p.add_argument("--authzid")
    p.add_argument("--src")
    p.add_argument("--double-b64", action="store_true")
    p.add_argument("--empty-ack", action="store_true")
    p.add_argument("--raw")
    p.add_argument("--list-subjects", action="store_true")
    p.add_argument("--wait-subject")
    p.add_argument("--show-replies", action="store_true")
    p.add_argument("--send-subject")
    p.add_argument("--no-initial-response", action="store_true")
    args = p.parse_args()
    token = sys.stdin.read().strip()
    try:
        return run_imap(args, token) if args.proto == "imap" else run_smtp(args, token)
    except (OSError, smtplib.SMTPException, imaplib.IMAP4.error) as e:
        print("result: ERROR %s: %s" % (type(e).__name__, e))
        return 3


if __name__ == "__main__":
    sys.exit(main())
