# Sourced by scripts/gpu-bundle.sh and scripts/gpu-device-check.sh: one way to start a worker in
# the background and learn its address.
#
# spawn_worker DIR COMMAND...: runs COMMAND (an atoma-worker listening on port 0) in the
# background with its stdout in DIR/listening, and sets PID. Once the worker prints its
# "listening on" line, sets URL and returns 0; if it exits first or takes over 120 s, URL stays
# empty and it returns 1.
spawn_worker() {
	local dir="$1" tries=0
	shift
	URL=""
	# Removed first: the previous worker's line must not be taken for this one's.
	rm -f "$dir/listening"
	"$@" >"$dir/listening" &
	PID=$!
	until grep -q "listening on" "$dir/listening" 2>/dev/null; do
		kill -0 "$PID" 2>/dev/null && [ $((tries += 1)) -lt 600 ] || return 1
		sleep 0.2
	done
	URL="$(sed -n 's/.*listening on //p' "$dir/listening")"
}
