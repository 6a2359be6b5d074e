#!/usr/bin/env bash
# Two SMB users mapped to different Unix users (nobody, daemon) interleaved on one server
# (one loop thread: SMBKITD_LOOPS unknown, so use both connections concurrently and sequentially).
set -u
BUILD=$1
W=$(mktemp -d /dev/shm/zcid.XXXX); chmod 755 $W; mkdir -p $W/share $W/kit; chmod 1777 $W/share
echo secretA > $W/share/a.txt; chown nobody:nogroup $W/share/a.txt; chmod 600 $W/share/a.txt
echo secretB > $W/share/b.txt; chown daemon:daemon $W/share/b.txt; chmod 600 $W/share/b.txt
mkdir $W/share/onlyA; chown nobody:nogroup $W/share/onlyA; chmod 700 $W/share/onlyA
printf 'Pa.1\n' | $BUILD/smbkit-passwd -f $W/kit/users add ua --unix-user nobody --password-stdin >/dev/null
printf 'Pb.1\n' | $BUILD/smbkit-passwd -f $W/kit/users add ub --unix-user daemon --password-stdin >/dev/null
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > $W/kit/c.conf <<C
[global]
	users file = $W/kit/users
	listen = 127.0.0.1:$PORT
	log level = warn
[s]
	path = $W/share
	read only = no
C
SMBKITD_LOOPS=1 $BUILD/smbkitd --foreground -c $W/kit/c.conf >$W/log 2>&1 &
PID=$!
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
pass=0 fail=0
chk() { if [[ $1 == 0 ]]; then pass=$((pass+1)); else fail=$((fail+1)); echo "not ok - $2"; fi; }
sc() { smbclient -s /dev/null //127.0.0.1/s -p $PORT -U "$1" -m SMB3_11 -c "$2" 2>&1; }
for r in 1 2 3 4 5 6 7 8; do
  rm -f $W/A1 $W/A2 $W/B1 $W/B2 $W/B3
  # concurrently: A reads a.txt repeatedly while B tries a.txt and reads b.txt
  (sc ua%Pa.1 "get a.txt $W/A1; get a.txt $W/A2; ls onlyA/*; put /etc/hostname onlyA/fromA$r; get b.txt /dev/null" > $W/outA) & PA=$!
  (sc ub%Pb.1 "get b.txt $W/B1; get a.txt $W/B3; ls onlyA/*; put /etc/hostname onlyA/fromB$r; get b.txt $W/B2" > $W/outB) & PB=$!
  wait $PA $PB
  [[ $(cat $W/A1 $W/A2 | grep -c secretA) == 2 ]]; chk $? "A reads a.txt ($r)"
  grep -q "get b.txt.*NT_STATUS_ACCESS_DENIED\|NT_STATUS_ACCESS_DENIED opening remote file \\\\b.txt" $W/outA; chk $? "A denied b.txt ($r)"
  [[ $(cat $W/B1 $W/B2 | grep -c secretB) == 2 ]]; chk $? "B reads b.txt ($r)"
  grep -q "NT_STATUS_ACCESS_DENIED opening remote file \\\\a.txt" $W/outB; chk $? "B denied a.txt ($r)"
  ! grep -qs secretA $W/outB $W/B3; chk $? "B never sees secretA ($r)"
  [[ -f $W/share/onlyA/fromA$r && $(stat -c %U $W/share/onlyA/fromA$r) == nobody ]]; chk $? "A's file owned by nobody ($r)"
  [[ ! -e $W/share/onlyA/fromB$r ]]; chk $? "B cannot write into onlyA ($r)"
done
# new files by B are owned by daemon
sc ub%Pb.1 "put /etc/hostname byB" >/dev/null; [[ $(stat -c %U:%G $W/share/byB) == daemon:daemon ]]; chk $? "B's new file owned by daemon:daemon"
echo "ident: $pass passed, $fail failed"
kill $PID; wait $PID 2>/dev/null; rm -rf $W
