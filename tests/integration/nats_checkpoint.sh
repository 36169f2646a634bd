# checkpoint.sh with the journal on a 3-node NATS cluster: the stream is
# purged up to each checkpoint.
CP_NATS=1 . "$(dirname "$0")/checkpoint.sh"
