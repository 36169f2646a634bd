# An old collector meets a clear error, not garbage: a sink hello that
# speaks no delivery protocol (as every sink before delivery protocol 2,
# which read the delivery port with PULL) or a newer one is refused with a
# reason naming both versions, and the broker goes on serving a current
# sink. The hello is sent by Python from proto/sluice.proto, as a program
# written against the older protocol would send it.
# Prints SKIP when python3-zmq, python3-protobuf or protoc is missing.
. "$(dirname "$0")/lib.sh"

need_python_proto

start_broker
for delivery in 0 1 3; do
    "$PY" - "$WORK/pb" "$BROKER" "$delivery" >"$WORK/old-$delivery.out" <<'PY' \
        || fail "hello with delivery $delivery: $(cat "$WORK/old-$delivery.out")"
import sys, zmq
sys.path.insert(0, sys.argv[1])
import sluice_pb2 as pb
host, port = sys.argv[2].rsplit(":", 1)
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect("%s:%s" % (host, port))          # the control port: the broker's own
env = pb.Envelope(version=1)
env.hello.role = pb.ROLE_SINK
env.hello.name = "old-sink:1"
env.hello.delivery = int(sys.argv[3])
s.send(env.SerializeToString())
if not s.poll(10000):
    sys.exit("no answer in 10 s")
reply = pb.Envelope()
reply.ParseFromString(s.recv())
if reply.WhichOneof("body") != "refuse":
    sys.exit("answered %s, not a refusal" % reply.WhichOneof("body"))
print(reply.refuse.reason)
PY
    expect_grep "delivery protocol 2" "$WORK/old-$delivery.out" "the refusal names the broker's version"
done
expect_grep "speaks delivery protocol 1 (an older sluice, reading with PULL)" "$WORK/old-0.out" \
    "an old sink is told it is older"
expect_grep "speaks delivery protocol 3 (a newer sluice)" "$WORK/old-3.out" \
    "a newer sink is told it is newer"

# The broker goes on: a current sink collects a job.
start_worker w --builtin echo -j 2
seq 1 200 >"$WORK/tasks.txt"
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" 2>>"$WORK/v.log") \
    || fail "ventilator"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/out.jsonl" -f jsonl \
    2>>"$WORK/sink.log" || fail "sink after the old ones: exit status $?"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo || fail "results"
echo "PASS: old and newer sink hellos refused with both versions named; the broker serves on"
