# Shared by the bench scripts: where the programs are, a work directory
# removed at exit with every process started, and a free base port.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${SLUICE_BIN:-$HERE/../build}
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
pids=()
cleanup () {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Prints a base port P such that P..P+4 are free on 127.0.0.1.
free_port () {
    python3 -c 'import socket, random
while True:
    b = random.randint(10000, 32000); ok = True
    for p in range(b, b + 5):
        s = socket.socket()
        try: s.bind(("127.0.0.1", p))
        except OSError: ok = False
        s.close()
    if ok: print(b); break'
}
BROKER=tcp://127.0.0.1:$(free_port)
