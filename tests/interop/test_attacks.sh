#!/usr/bin/env bash
# Attack tests (issue 5): tampered signatures, replays, dialect downgrade,
# bad logins, the failed-login back-off and the access policy
# (hosts allow/deny, valid/invalid users with @group, read list, write list,
# guest ok).  Starts one server with lib.sh (command-line share) and a second
# one from a configuration file that sets the policy; runs test_attacks.py.
# Output: ok/not ok lines and "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMBKIT_TIER="${SMBKIT_TIER:-attacks}"
. "$HERE/lib.sh"
smbkit_start || exit 1

PW="$SMBKIT_PASS"
for u in reader writer banned; do
	printf '%s\n' "$PW" | "$BUILD_DIR/smbkit-passwd" -f "$SMBKIT_USERS_FILE" add "$u" \
		--unix-user "$SMBKIT_UNIX_USER" --password-stdin >/dev/null || exit 1
done
ROGROUP=$(id -gn "$SMBKIT_UNIX_USER")
mkdir -p "$SMBKIT_TMP/pol_rw" "$SMBKIT_TMP/pol_ro" "$SMBKIT_TMP/pol_deny" "$SMBKIT_TMP/pol_guest"
chmod 1777 "$SMBKIT_TMP"/pol_*
PORT2=$(smbkit_free_port)
CONF="$SMBKIT_TMP/policy.conf"
cat >"$CONF" <<CONF_EOF
[global]
    users file = $SMBKIT_USERS_FILE
    server signing = mandatory
    map to guest = bad user
    listen = 127.0.0.1:$PORT2, 127.0.0.2:$PORT2
    hosts deny = 127.0.0.3
    login failure limit = 3
    login failure window = 60
    login failure backoff = 3
[rw]
    path = $SMBKIT_TMP/pol_rw
    read only = no
    valid users = @$ROGROUP
    invalid users = banned
    read list = reader
[ro]
    path = $SMBKIT_TMP/pol_ro
    read only = yes
    write list = writer
[denied]
    path = $SMBKIT_TMP/pol_deny
    read only = no
    hosts allow = 127.0.0.2
    hosts deny = ALL
[guestshare]
    path = $SMBKIT_TMP/pol_guest
    guest ok = yes
CONF_EOF
LOG2="$SMBKIT_LOG_DIR/$SMBKIT_TIER-policy.log"
"$BUILD_DIR/smbkitd" --foreground -c "$CONF" --log-level debug </dev/null >"$LOG2" 2>&1 &
PID2=$!
for ((i = 0; i < 100; i++)); do smbkit_port_open "$PORT2" && break; sleep 0.1; done

/usr/bin/python3 "$HERE/test_attacks.py" 127.0.0.1 "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" \
	"$SMBKIT_USER" "$SMBKIT_PASS" "$PORT2" "$LOG2"
rc=$?
kill -TERM "$PID2" 2>/dev/null
wait "$PID2" 2>/dev/null
smbkit_check_log "$LOG2" || rc=1
smbkit_stop || rc=1
exit $rc
