# obs_lib.sh - helpers for the observability tests (source after funnel_lib.sh).
#   obs_funneld_start [-X key=value]...  starts funneld with metrics on an ephemeral port and
#                                        does NOT wait for the control socket (bootstrap may be
#                                        retrying); exports FNL_SOCKET, FNL_FUNNELD_PID, OBS_PORT
#   obs_http PATH                        body of GET PATH (status 0 only for HTTP 200)
#   obs_status PATH                      HTTP status code of GET PATH
#   obs_metric FILE NAME [LABELS]        value of one sample in a scrape (empty if absent)
#   obs_ctl ARGS...                      funnelctl -s $FNL_SOCKET ARGS...
: "${FNL_FUNNELCTL:=$FNL_BUILD_DIR/ctrl/funnelctl}"
OBS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

obs_funneld_start() {
	FNL_SOCKET=$FNL_TMP/run/funnel.sock
	export FNL_SOCKET
	cat >"$FNL_TMP/funnel.properties" <<PROPS
bootstrap.servers=$FNL_BOOTSTRAP
funnel.socket.path=$FNL_SOCKET
funnel.metrics.listen=127.0.0.1:0
linger.ms=5
max.block.ms=30000
PROPS
	"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" "$@" 2>>"$FNL_TMP/funneld.err" &
	FNL_FUNNELD_PID=$!
	fnl_track "$FNL_FUNNELD_PID"
	export FNL_FUNNELD_PID
	fnl_wait_for 10 grep -q "metrics listening" "$FNL_TMP/funneld.err" || {
		cat "$FNL_TMP/funneld.err" >&2
		fnl_fail "funneld did not start its metrics listener"
	}
	OBS_PORT=$(sed -n 's/.*metrics listening.* port=\([0-9]*\).*/\1/p' "$FNL_TMP/funneld.err" | tail -1)
	[[ -n $OBS_PORT ]] || fnl_fail "no metrics port in the log"
	export OBS_PORT
}

obs_http() {
	python3 "$OBS_DIR/httpget.py" "$OBS_PORT" "$1"
}

obs_status() {
	python3 "$OBS_DIR/httpget.py" "$OBS_PORT" "$1" --status || true
}

obs_health_is() {
	[[ $(obs_status /health) == "$1" ]]
}

# obs_metric FILE NAME [LABELS]: LABELS exactly as exposed, e.g. 'topic="t",partition="0"'
obs_metric() {
	local sel=$2
	[[ -z ${3:-} ]] || sel="$2{$3}"
	awk -v s="$sel" '$1 == s { print $2; exit }' "$1"
}

obs_ctl() {
	"$FNL_FUNNELCTL" -s "$FNL_SOCKET" "$@"
}
