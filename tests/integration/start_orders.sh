# Every start order of broker, worker, ventilator and sink completes the job:
# clients wait for the broker, results wait in the broker for the sink.
. "$(dirname "$0")/lib.sh"

seq 1 50 | sed 's/^/order task /' > "$WORK/tasks.txt"
orders=$("$PYTHON" -c 'import itertools; print("\n".join("".join(p) for p in itertools.permutations("BWVS")))')
for order in $orders; do
    rm -f "$WORK/out.jsonl"
    PORT=$(free_port)
    BROKER="tcp://127.0.0.1:$PORT"
    pids=()
    for ((k = 0; k < 4; k++)); do
        case ${order:k:1} in
            B) start_broker; bpid=$LAST_PID ;;
            W) start_worker "w-$order" --builtin echo -j 2; wpid=$LAST_PID ;;
            V) start_bg "v-$order" "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" \
                   --connect-timeout 30 "$WORK/tasks.txt"; vpid=$LAST_PID ;;
            S) start_bg "s-$order" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" \
                   -o "$WORK/out.jsonl" -f jsonl; spid=$LAST_PID ;;
        esac
        sleep 0.3
    done
    wait_pid "$vpid" 30
    expect_rc 0 "$WAIT_RC" "ventilator (order $order)" >/dev/null
    wait_pid "$spid" 30
    expect_rc 0 "$WAIT_RC" "sink (order $order)"
    $CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo >/dev/null \
        || fail "order $order: results wrong"
    kill "$wpid" "$bpid"
    wait "$wpid" "$bpid" 2>/dev/null
    echo "order $order ok"
done
