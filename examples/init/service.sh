#!/bin/sh
### BEGIN INIT INFO
# Provides:          daemonic-service
# Required-Start:    $local_fs $network
# Required-Stop:     $local_fs $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: The daemonic example service
# Description:       A SysV/LSB init script for examples/service.rs. The binary
#                    does the work and already exits with the LSB codes:
#                    status 0/1/3/4, stop 0 when stopped or not running,
#                    reload 7 when not running.
### END INIT INFO

DAEMON=${DAEMON:-/usr/local/bin/daemonic-service}
export APP_PIDFILE=${APP_PIDFILE:-/run/daemonic-service/service.pid}
export APP_LOG=${APP_LOG:-/var/log/daemonic-service/service.log}

[ -x "$DAEMON" ] || exit 5

case "$1" in
  start|stop|status|reload|restart)
    exec "$DAEMON" "$1"
    ;;
  force-reload)
    "$DAEMON" reload || exec "$DAEMON" restart
    ;;
  try-restart)
    "$DAEMON" status >/dev/null 2>&1 || exit 0
    exec "$DAEMON" restart
    ;;
  *)
    echo "Usage: $0 {start|stop|status|reload|force-reload|restart|try-restart}" >&2
    exit 2
    ;;
esac
