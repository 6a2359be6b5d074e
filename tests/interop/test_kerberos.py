#!/usr/bin/python3
"""impacket Kerberos logins against smbkitd (driven by test_kerberos.sh).

    test_kerberos.py PORT SPN EXPECT
    test_kerberos.py PORT SPN reauth
    test_kerberos.py PORT hints

Takes the service ticket for SPN ("cifs/localhost@SMBKIT.TEST") out of the
credential cache named by KRB5CCNAME (test_kerberos.sh puts it there with
kvno) and logs in to 127.0.0.1:PORT with it, the way `impacket -k` does,
without asking a KDC.  impacket does not check the ticket's end time, so an
expired ticket really reaches the server.  EXPECT is "ok" (login, then a
write and read back on the share) or "fail" (the login must be refused).
"hints" checks that the NEGOTIATE response's SPNEGO hints list both krb5
mechanism OIDs.  "reauth" logs in, writes a file, then authenticates the
same session again with the same ticket (a SESSION_SETUP carrying the
session's id: MS-SMB2 3.3.5.5.3) and writes and reads another file; the
server must accept the re-authentication and keep the session working.
Exit status 0 when the outcome matched.
"""
import io
import os
import sys

from impacket.krb5.ccache import CCache
from impacket.smbconnection import SessionError, SMBConnection


# DER encodings (tag, length, value) of 1.2.840.48018.1.2.2 and 1.2.840.113554.1.2.2.
MS_KRB5_OID = bytes.fromhex("06092a864882f712010202")
KRB5_OID = bytes.fromhex("06092a864886f712010202")


def check_hints(port):
    conn = SMBConnection("smbkitsrv", "127.0.0.1", sess_port=port)
    blob = bytes(conn._SMBConnection._Connection["GSSNegotiateToken"])
    conn.close()
    if MS_KRB5_OID in blob and KRB5_OID in blob:
        print("hints list krb5 and MS krb5")
        return 0
    print("hints lack krb5: %s" % blob.hex())
    return 1


def main():
    if sys.argv[2] == "hints":
        return check_hints(int(sys.argv[1]))
    port, spn, expect = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ccache = CCache.loadFile(os.environ["KRB5CCNAME"])
    principal = ccache.principal.toPrincipal()
    user, realm = str(principal).split("@")
    cred = ccache.getCredential(spn, anySPN=False)
    if cred is None:
        print("no ticket for %s in the cache" % spn)
        return 2
    tgs = cred.toTGS()
    conn = SMBConnection("localhost", "127.0.0.1", sess_port=port)
    try:
        conn.kerberosLogin(user, "", realm, TGS=tgs, useCache=False)
    except SessionError as e:
        print("login refused: %s" % e)
        return 0 if expect == "fail" else 1
    if expect == "fail":
        print("login succeeded but should have been refused")
        return 1
    data = b"kerberos via impacket\n" * 100
    tid = conn.connectTree("share")
    if expect == "reauth":
        return reauth(conn, tid, user, realm, tgs, data)
    same = put_get(conn, "impacket_krb5.txt", data)
    conn.deleteFile("share", "impacket_krb5.txt")
    conn.disconnectTree(tid)
    conn.logoff()
    if not same:
        print("read back differs")
        return 1
    print("login as %s, put/get ok" % principal)
    return 0


def put_get(conn, name, data):
    """Writes data to name on the share and reads it back: equal?"""
    conn.putFile("share", name, io.BytesIO(data).read)
    got = io.BytesIO()
    conn.getFile("share", name, got.write)
    return got.getvalue() == data


def reauth(conn, tid, user, realm, tgs, data):
    conn.putFile("share", "reauth_before.txt", io.BytesIO(data).read)
    session_id = conn._SMBConnection._Session["SessionID"]
    try:
        # impacket sends this SESSION_SETUP with the session's id: a re-auth.
        conn.kerberosLogin(user, "", realm, TGS=tgs, useCache=False)
    except SessionError as e:
        print("re-authentication refused: %s" % e)
        return 1
    if conn._SMBConnection._Session["SessionID"] != session_id:
        print("re-authentication answered with another session id")
        return 1
    same = put_get(conn, "reauth_after.txt", data)
    conn.disconnectTree(tid)
    conn.logoff()
    if not same:
        print("read back after re-authentication differs")
        return 1
    print("re-authenticated session %#x, put/get ok" % session_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
