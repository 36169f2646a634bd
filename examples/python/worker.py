#!/usr/bin/python3
"""A sluice worker in Python: a foreign worker speaking docs/protocol.md.

Joins a broker like sluice-worker (hello, heartbeats claiming the tasks it
took, credit-based fair dispatch, or push when the Welcome says so) and runs
each task with the built-in echo (output = payload, the default) or --exec.
Needs Debian's python3-zmq and python3-protobuf.

Generated code is never committed: sluice_pb2 is imported from --pb-dir DIR
(or $SLUICE_PB_DIR); without it, `protoc --python_out` (protobuf-compiler)
generates it from --proto (default: this checkout's proto/sluice.proto) into
${XDG_CACHE_HOME:-~/.cache}/sluice-py/HASH, once per version of the file.

  worker.py --broker tcp://HOST:5560 -j 4 --exec 'gzip -c'
  worker.py --broker tcp://HOST:5560 --exec 'convert {} -resize 50% {}.png'

--exec CMD is split into words like a shell would (shlex) but run WITHOUT a
shell: `{}` in a word is replaced by the payload, which stays one argument
and is never parsed; the payload is also on standard input. Exit status 0
is ok, else failed (128+N if killed by signal N); over its time limit a task
is killed (process group: SIGTERM, SIGKILL 2 s later) and ends timeout.
Results name the worker "host:pid". The first SIGTERM/SIGINT drains: tasks
not started are handed back, running ones get --drain-timeout seconds; then
(or at a second signal) it says Bye, listing what is unfinished.
"""
import argparse
import collections
import hashlib
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import zmq
import zmq.utils.monitor

PROTOCOL_VERSION = 1  # lib/sl_proto.h SL_PROTOCOL_VERSION
CONTROL, INTAKE, DISPATCH, RESULTS, DELIVERY = range(5)  # port offsets
LIVENESS = 3  # heartbeats the broker may miss before we say hello again
MAX_REFS = 4096  # task references per heartbeat or release
MAX_BATCH, MAX_BATCH_BYTES = 256, 4 << 20  # one result batch
STDERR_TAIL = 4096  # bytes of a task's stderr kept
KILL_GRACE_S = 2.0  # SIGTERM -> SIGKILL for a task over its time limit

pb = None  # the generated module, see load_pb


def log(level, msg):
    print("%s python-worker[%d] %s: %s" % (time.strftime("%Y-%m-%dT%H:%M:%S"), os.getpid(),
                                          level, msg), file=sys.stderr, flush=True)


def now_ms():
    return time.monotonic_ns() // 1000000


def load_pb(pb_dir, proto):
    """Imports sluice_pb2 from pb_dir, or generates it with protoc into a cache."""
    global pb
    if not pb_dir:
        with open(proto, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        pb_dir = os.path.join(cache, "sluice-py", digest)
        if not os.path.exists(os.path.join(pb_dir, "sluice_pb2.py")):
            os.makedirs(pb_dir, exist_ok=True)
            tmp = tempfile.mkdtemp(dir=pb_dir)  # then renamed: concurrent runs are safe
            subprocess.run(["protoc", "-I", os.path.dirname(os.path.abspath(proto)),
                            "--python_out", tmp, os.path.basename(proto)], check=True)
            os.replace(os.path.join(tmp, "sluice_pb2.py"), os.path.join(pb_dir, "sluice_pb2.py"))
            os.rmdir(tmp)
    sys.path.insert(0, pb_dir)
    import sluice_pb2
    pb = sluice_pb2


def endpoint(base, offset):
    """tcp://HOST:PORT -> tcp://HOST:PORT+offset (lib/sl_endpoint.c)."""
    host, _, port = base.rpartition(":")
    if not base.startswith("tcp://") or not port.isdigit() or not 1 <= int(port) <= 65531:
        raise ValueError("broker address %r is not tcp://HOST:PORT" % base)
    return "%s:%d" % (host, int(port) + offset)


def curve_keys(secret_path, server_path):
    """(public, secret, server public) from czmq certificate files, or None."""
    if not server_path:
        return None
    import zmq.auth
    try:
        server_public, _ = zmq.auth.load_certificate(server_path)
        if not secret_path:
            return zmq.curve_keypair() + (server_public,)  # an ephemeral key
        if os.path.exists(secret_path + "_secret"):  # like czmq's zcert_load
            secret_path += "_secret"
        public, secret = zmq.auth.load_certificate(secret_path)
    except (OSError, ValueError) as e:
        sys.exit("worker.py: cannot read a CurveZMQ certificate: %s" % e)
    if not secret:
        sys.exit("worker.py: %s holds no secret key (give NAME_secret)" % secret_path)
    return public, secret, server_public


class Task:
    __slots__ = ("job", "seq", "attempt", "stage", "timeout_ms", "payload", "started", "announced",
                 "proc")

    def __init__(self, job, t):
        self.job, self.seq, self.attempt = job, t.seq, t.attempt
        self.stage = t.stage  # multi-stage jobs: echoed in the result
        self.timeout_ms, self.payload = t.timeout_ms, t.payload
        self.started = False  # given a slot (else it waits for one)
        self.announced = False  # claimed in a heartbeat since we took it
        self.proc = None  # --exec: its process, while it runs

    def ref(self):
        return pb.TaskRef(job=self.job, seq=self.seq, attempt=self.attempt,
                          waiting=not self.started)


class Worker:
    def __init__(self, args):
        self.args = args
        self.name = "%s:%d" % (socket.gethostname(), os.getpid())
        self.command = [os.fsencode(w) for w in shlex.split(args.exec)] if args.exec else None
        self.ctx = zmq.Context()
        self.keys = curve_keys(args.curve_secret, args.curve_server)
        self.control = self.socket(zmq.DEALER, CONTROL, linger=200, immediate=1)
        self.tasks = self.results = None  # data sockets, opened once welcomed
        self.hello = pb.Hello(role=pb.ROLE_WORKER, name=self.name, slots=args.jobs,
                              heartbeat_ms=args.heartbeat)
        self.broker_id, self.hb_ms, self.fair = "", 1000, True
        self.connected = False  # welcomed, and the broker answers
        self.last_answer = self.next_heartbeat = self.next_hello = 0
        self.waiting = collections.deque()  # Task received, not started
        self.running = set()  # Task started, not finished
        self.done = queue.Queue()  # (task, status, exit_code, out, err, truncated, ms)
        self.outbox = collections.deque()  # encoded result batches not yet sent
        self.granted = 0  # fair: tasks asked for and not received yet
        self.avg_ms = None  # moving average of run times, for the prefetch
        self.claims_pending = False  # a task claimed as waiting started
        self.draining, self.drain_until, self.refused = False, 0, False
        self.signals, self.finished = 0, 0
        # Threads and signals wake the poll through this pipe.
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def on_signal(self, signum, frame):
        self.signals += 1

    def socket(self, kind, offset, linger, identity=None, immediate=0, rcvhwm=1000):
        sock = self.ctx.socket(kind)
        sock.linger, sock.immediate, sock.rcvhwm = linger, immediate, rcvhwm
        if identity:
            sock.identity = identity.encode()
        if self.keys:
            sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = self.keys
        sock.connect(endpoint(self.args.broker, offset))
        return sock

    # --- Messages -----------------------------------------------------------

    def send(self, sock, **body):
        """Sends one Envelope holding body; False if ZeroMQ would block."""
        try:
            sock.send(pb.Envelope(version=PROTOCOL_VERSION, **body).SerializeToString(),
                      zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    def recv(self, sock):
        """Next well-formed Envelope of our version on sock, or None if none waits."""
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return None
            env = pb.Envelope()
            try:
                env.ParseFromString(frames[0])
            except Exception:
                env = None
            if env is None or len(frames) != 1 or not env.WhichOneof("body"):
                log("warning", "dropped a malformed message from the broker")
            elif env.version != PROTOCOL_VERSION:
                log("warning", "dropped a message of protocol version %d" % env.version)
            else:
                return env

    # --- The link: hello, heartbeats ----------------------------------------

    def say_hello(self):
        """First hello, re-sent until welcomed. Returns the Welcome, or None."""
        start = next_send = now_ms()
        notice, broken = start + 1000, 0
        # A refused CurveZMQ key shows up nowhere but in socket events.
        monitor = self.control.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
            zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        poller = zmq.Poller()
        for sock in (self.control, self.wake_r, monitor):
            poller.register(sock, zmq.POLLIN)
        while not self.signals:
            now = now_ms()
            if self.args.connect_timeout and now - start >= self.args.connect_timeout * 1000:
                log("error", "no broker answered at %s" % self.args.broker)
                return None
            if now >= notice:
                log("warning", "waiting for broker at %s ..." % self.args.broker)
                notice = now + 30000
            if now >= next_send:  # EAGAIN (not connected yet, ZMQ_IMMEDIATE): soon again
                next_send = now + (250 if self.send(self.control, hello=self.hello) else 5)
            if monitor in dict(poller.poll(max(1, next_send - now))):
                event = zmq.utils.monitor.recv_monitor_message(monitor)["event"]
                broken += 1
                # A handshake that broke off may be a broker dying; 3 are not.
                if event != zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL or broken == 3:
                    log("error", "CurveZMQ handshake with %s failed: %s" % (
                        self.args.broker, "the broker refused this worker's key"
                        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH else
                        "wrong --curve-server, or CurveZMQ on one side only"))
                    return None
            self.drain_wake()
            env = self.recv(self.control)
            if env and env.WhichOneof("body") == "welcome":
                self.control.disable_monitor()
                return env.welcome
            if env and env.WhichOneof("body") == "refuse":  # (retry_ms is for sinks)
                log("error", "the broker refused: %s" % env.refuse.reason)
                return None
        return None

    def on_welcome(self, welcome, now):
        self.broker_id, self.hb_ms = welcome.broker_id, welcome.heartbeat_ms or 1000
        self.connected, self.last_answer = True, now
        if self.tasks is None:  # the first welcome: open the data sockets
            self.fair = welcome.fair
            # Fair: a DEALER the broker knows by our name, fed credit. Push: a PULL.
            self.tasks = self.socket(zmq.DEALER if self.fair else zmq.PULL, DISPATCH, linger=0,
                                     identity=self.name if self.fair else None, rcvhwm=2)
            self.results = self.socket(zmq.PUSH, RESULTS, linger=2000)
            log("info", "connected to broker %s at %s as %s, %s dispatch, %d slots, heartbeat "
                "%d ms" % (self.broker_id, self.args.broker, self.name,
                           "fair" if self.fair else "push", self.args.jobs, self.hb_ms))
        else:
            log("info", "welcomed again, by broker %s" % self.broker_id)
        for task in list(self.running) + list(self.waiting):
            task.announced = False  # it may not know what we hold: tell it all
        self.heartbeat(now)
        self.credit(absolute=True)

    def rehello(self, now):
        self.connected = False
        self.send(self.control, hello=self.hello)
        self.next_hello = now + min(self.hb_ms, 1000)

    def heartbeat(self, now):
        """Heartbeats, claiming every task taken since the last one."""
        refs = []
        for task in list(self.running) + list(self.waiting):
            if not task.announced:
                task.announced = True
                refs.append(task.ref())
        for i in range(0, max(len(refs), 1), MAX_REFS):
            self.send(self.control, heartbeat=pb.Heartbeat(running=len(self.running),
                                                           held=refs[i:i + MAX_REFS]))
        self.next_heartbeat = now + self.hb_ms

    def on_control(self, now):
        while (env := self.recv(self.control)) is not None:
            kind = env.WhichOneof("body")
            if kind == "heartbeat":
                hb = env.heartbeat
                if hb.rehello or hb.broker_id != self.broker_id:
                    if self.connected:
                        log("warning", "the broker restarted or forgot us: hello again")
                        self.rehello(now)
                else:
                    self.last_answer = now
            elif kind == "welcome":
                if not (self.connected and env.welcome.broker_id == self.broker_id):
                    self.on_welcome(env.welcome, now)  # (else: a hello answered twice)
            elif kind == "refuse":
                log("error", "the broker refused: %s" % env.refuse.reason)
                self.refused = True

    # --- Tasks ----------------------------------------------------------------

    def prefetch(self):
        """Tasks held beyond the slots (worker/credit.c): enough to hide 2 ms."""
        if self.args.prefetch >= 0:
            return self.args.prefetch
        if self.avg_ms is None:
            return 0
        return min(1024, int(self.args.jobs * 2.0 / max(self.avg_ms, 0.01) + 0.5))

    def credit(self, absolute=False):
        """Fair dispatch: asks for as many tasks as fit, less those asked for."""
        if not self.fair:
            return
        held = len(self.running) + len(self.waiting)
        room = 0 if self.draining else max(0, self.args.jobs + self.prefetch() - held)
        if not absolute and room <= self.granted:
            return
        amount = room if absolute else room - self.granted
        if self.send(self.tasks, credit=pb.Credit(credit=amount, absolute=absolute)):
            self.granted = room

    def read_tasks(self):
        while (env := self.recv(self.tasks)) is not None:
            if env.WhichOneof("body") != "tasks":
                log("warning", "dropped a %s message on the task socket" % env.WhichOneof("body"))
                continue
            self.granted -= len(env.tasks.tasks)
            self.waiting.extend(Task(env.tasks.job, t) for t in env.tasks.tasks)
        if self.draining:
            self.release_waiting()  # arrived on the way: hand back

    def release_waiting(self):
        while self.waiting:
            n = min(len(self.waiting), MAX_REFS)
            refs = [self.waiting.popleft().ref() for _ in range(n)]
            self.send(self.control, release=pb.Release(tasks=refs))

    def start_tasks(self):
        while self.waiting and len(self.running) < self.args.jobs:
            task = self.waiting.popleft()
            task.started = True
            self.running.add(task)
            if task.announced:  # claimed as waiting: say at once that it runs
                task.announced, self.claims_pending = False, True
            if self.command is None:
                self.done.put((task, pb.STATUS_OK, 0, task.payload, b"", False, 0))
            else:
                threading.Thread(target=self.run_exec, args=(task,), daemon=True).start()

    def run_exec(self, task):
        """Runs task's command (in a thread of its own) and queues its result."""
        start = time.monotonic()
        argv = [w.replace(b"{}", task.payload) for w in self.command]
        env = dict(os.environ, SLUICE_JOB=task.job, SLUICE_SEQ=str(task.seq),
                   SLUICE_ATTEMPT=str(task.attempt))
        status, out, err = pb.STATUS_OK, b"", b""
        try:
            task.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env, start_new_session=True)
        except (OSError, ValueError) as e:  # not found, not executable, NUL in the payload
            err = ("cannot run %s: %s" % (os.fsdecode(argv[0]), e)).encode()
            self.finish(task, pb.STATUS_FAILED, -1, b"", err, start)
            return
        try:
            out, err = task.proc.communicate(task.payload, timeout=task.timeout_ms / 1000 or None)
        except subprocess.TimeoutExpired:
            status = pb.STATUS_TIMEOUT
            for sig, grace in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
                try:
                    os.killpg(task.proc.pid, sig)
                    out, err = task.proc.communicate(timeout=grace)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    pass
        code = task.proc.wait()
        code = 128 - code if code < 0 else code
        if status == pb.STATUS_OK and code != 0:
            status = pb.STATUS_FAILED
        self.finish(task, status, code, out, err, start)

    def finish(self, task, status, code, out, err, start):
        truncated = len(out) > self.args.max_output
        ms = int((time.monotonic() - start) * 1000)
        self.done.put((task, status, code, out[:self.args.max_output], err[-STDERR_TAIL:],
                       truncated, ms))
        try:
            os.write(self.wake_w, b"r")
        except BlockingIOError:
            pass  # the pipe is full: the loop is awake anyway

    def collect_results(self):
        """Sends finished tasks' results: one batch per run of the same job."""
        batch, job, size = [], None, 0
        while True:
            try:
                task, status, code, out, err, truncated, ms = self.done.get_nowait()
            except queue.Empty:
                break
            if task not in self.running:
                continue  # stopped and handed back meanwhile
            self.running.discard(task)
            self.finished += 1
            self.avg_ms = ms if self.avg_ms is None else 0.9 * self.avg_ms + 0.1 * ms
            if batch and (task.job != job or len(batch) == MAX_BATCH or
                          size + len(out) + len(err) > MAX_BATCH_BYTES):
                self.queue_results(job, batch)
                batch, size = [], 0
            job, size = task.job, size + len(out) + len(err)
            batch.append(pb.Result(seq=task.seq, status=status, exit_code=code, output=out,
                                   stderr_tail=err, worker=self.name, duration_ms=ms,
                                   output_truncated=truncated, attempt=task.attempt,
                                   stage=task.stage))
        if batch:
            self.queue_results(job, batch)

    def queue_results(self, job, results):
        env = pb.Envelope(version=PROTOCOL_VERSION,
                          results=pb.ResultBatch(job=job, results=results))
        self.outbox.append(env.SerializeToString())
        self.flush_outbox()

    def flush_outbox(self):
        """Sends what the outbox holds until ZeroMQ takes no more (broker away)."""
        while self.outbox:
            try:
                self.results.send(self.outbox[0], zmq.NOBLOCK)
            except zmq.Again:
                return
            self.outbox.popleft()

    def drain_wake(self):
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    # --- Start, loop, stop --------------------------------------------------------

    def start_drain(self, now):
        """First signal: take nothing new, hand back what has not started."""
        self.read_tasks()  # what ZeroMQ holds already, handed back below
        self.draining, self.drain_until = True, now + int(self.args.drain_timeout * 1000)
        if self.fair:
            self.credit(absolute=True)  # credit 0: send me nothing more
        else:
            self.tasks.disconnect(endpoint(self.args.broker, DISPATCH))
        log("info", "draining: %d tasks handed back, waiting up to %gs for %d running"
            % (len(self.waiting), self.args.drain_timeout, len(self.running)))
        self.release_waiting()

    def run(self):
        welcome = self.say_hello()
        if welcome is None:
            return 0 if self.signals else 1
        self.on_welcome(welcome, now_ms())
        poller = zmq.Poller()
        handled, rc = 0, 0
        while True:
            now = now_ms()
            if self.signals > handled:
                handled = self.signals
                if self.draining:
                    log("warning", "second signal: stopping now")
                    break
                self.start_drain(now)
            if self.refused:
                rc = 1
                break
            if self.draining and not self.running:
                break
            if self.draining and now >= self.drain_until:
                log("warning", "drain timeout: stopping %d running tasks" % len(self.running))
                break
            if self.connected and now - self.last_answer > LIVENESS * self.hb_ms:
                log("warning", "the broker has not answered for %d ms; hello again"
                    % (now - self.last_answer))
                self.rehello(now)
            elif not self.connected and now >= self.next_hello:
                self.rehello(now)
            if self.connected and now >= self.next_heartbeat:
                self.heartbeat(now)
            wake = (min(self.next_heartbeat, self.last_answer + LIVENESS * self.hb_ms + 1)
                    if self.connected else self.next_hello)
            if self.draining:
                wake = min(wake, self.drain_until)
            poller.register(self.control, zmq.POLLIN)
            poller.register(self.tasks, zmq.POLLIN)
            poller.register(self.results, zmq.POLLOUT if self.outbox else 0)
            poller.register(self.wake_r, zmq.POLLIN)
            ready = dict(poller.poll(max(0, wake - now)))
            now = now_ms()
            if self.wake_r in ready:
                self.drain_wake()
            if self.control in ready:
                self.on_control(now)
            if self.tasks in ready:
                self.read_tasks()
            if self.results in ready:
                self.flush_outbox()
            self.start_tasks()
            self.collect_results()
            self.credit()
            if self.claims_pending and self.connected:
                self.heartbeat(now)
                self.claims_pending = False
        self.stop()
        return rc

    def stop(self):
        """Stops what runs and says Bye, listing every task not finished."""
        for task in self.running:
            if task.proc:
                try:
                    os.killpg(task.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.tasks is not None:
            self.read_tasks()  # arrived on the way: in the Bye too
            self.flush_outbox()
            unfinished = [t.ref() for t in list(self.running) + list(self.waiting)]
            self.send(self.control, bye=pb.Bye(unfinished=unfinished[:MAX_REFS]))
            if self.outbox:
                log("warning", "%d result batches not sent; the broker will redo those tasks"
                    % len(self.outbox))
        log("info", "worker done: %d tasks finished" % self.finished)
        self.ctx.destroy()  # closes with each socket's linger: results and bye get out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="A sluice worker in Python (see the top of this "
                                 "file and docs/protocol.md).")
    arg = ap.add_argument
    arg("-b", "--broker", default="tcp://127.0.0.1:5560",
        help="the broker's address; it uses this port and the next 4 (default %(default)s)")
    arg("-j", "--jobs", type=int, default=os.cpu_count() or 1,
        help="tasks run at once (default: number of CPUs, %(default)s)")
    arg("-e", "--exec", metavar="CMD", help="run CMD per task, without a shell: {} in a word "
        "is the payload, also on stdin (default: the built-in echo, output = payload)")
    arg("--max-output", type=int, default=1 << 20, metavar="BYTES",
        help="output kept per task (default %(default)s)")
    arg("--prefetch", type=int, default=-1, metavar="K",
        help="tasks held beyond -j, with fair dispatch (default: automatic)")
    arg("--heartbeat", type=int, default=0, metavar="MS",
        help="heartbeat interval wished (default: the broker's)")
    arg("--drain-timeout", type=float, default=30, metavar="SEC",
        help="on SIGTERM/SIGINT, how long running tasks may finish (default %(default)s)")
    arg("--connect-timeout", type=float, default=0, metavar="SEC",
        help="give up if no broker answers in time (default: wait)")
    arg("--curve-secret", metavar="FILE", help="CurveZMQ: this worker's certificate")
    arg("--curve-server", metavar="FILE", help="CurveZMQ: the broker's public certificate")
    arg("--pb-dir", metavar="DIR", default=os.environ.get("SLUICE_PB_DIR"),
        help="where sluice_pb2.py is (default: $SLUICE_PB_DIR, else generated with protoc)")
    arg("--proto", metavar="FILE", default=os.path.join(here, "..", "..", "proto",
                                                        "sluice.proto"),
        help="the .proto to generate it from (default: this checkout's)")
    args = ap.parse_args()
    try:
        endpoint(args.broker, 0)
        if args.jobs < 1 or (args.exec is not None and not shlex.split(args.exec)):
            raise ValueError("--jobs must be at least 1, --exec not empty")
    except ValueError as e:
        ap.error(str(e))
    load_pb(args.pb_dir, args.proto)
    return Worker(args).run()


if __name__ == "__main__":
    sys.exit(main())
