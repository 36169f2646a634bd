/*  attach_io - attachments on the wire: a ventilator's puts, a worker's gets.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

#define ATTACH_CHUNK (512 * 1024) //  bytes of an attachment per message to a worker

//  Files shipped with jobs, stored by the SHA-1 of their content in
//  attach_dir: DATA_DIR/attachments (or a private temporary directory with
//  --in-memory). A ventilator puts each in pieces on the intake, in order
//  (a piece that does not continue the file is dropped: the ventilator
//  sends again what the broker says it lacks); the last piece is checked
//  against the hash before the file takes its name. Workers get them in
//  pieces on the control socket, one request per piece.

int broker_attach_setup (broker_t *self, char *err, size_t errlen)
{
    if (self->config.data_dir) {
        snprintf (self->attach_dir, sizeof self->attach_dir, "%s/attachments",
                  self->config.data_dir);
        if (mkdir (self->attach_dir, 0700) && errno != EEXIST) {
            snprintf (err, errlen, "cannot make %s: %s", self->attach_dir, strerror (errno));
            return -1;
        }
    } else {
        const char *tmp = getenv ("TMPDIR");
        snprintf (self->attach_dir, sizeof self->attach_dir, "%s/sluice-attach.XXXXXX",
                  tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp (self->attach_dir)) {
            snprintf (err, errlen, "cannot make a directory for attachments in %s: %s",
                      tmp && *tmp ? tmp : "/tmp", strerror (errno));
            self->attach_dir [0] = '\0';
            return -1;
        }
        self->attach_temporary = true;
    }
    if (!(self->attach = sl_attach_store_new (self->attach_dir))) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

//  --in-memory: the attachments go with the broker.
void broker_attach_cleanup (broker_t *self)
{
    sl_attach_store_destroy (&self->attach);
    if (!self->attach_temporary || !self->attach_dir [0])
        return;
    zdir_t *dir = zdir_new (self->attach_dir, "-");
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
    rmdir (self->attach_dir);
}

void broker_on_attach_put (broker_t *self, Sluice__AttachPut *put)
{
    if (!sl_attach_hash_valid (put->hash) || put->total > self->config.max_attachment ||
        put->offset > put->total || put->data.len > put->total - put->offset) {
        broker_bad (self, "intake", NULL, "an attachment piece with a bad hash or size");
        return;
    }
    //  A failure is logged and kept for the ventilator's next JobState.
    sl_attach_put (self->attach, put->hash, put->offset, put->total, put->data.data, put->data.len);
}

void broker_on_attach_get (broker_t *self, zframe_t *routing_id, sl_peer_t *peer,
                           Sluice__AttachGet *get)
{
    Sluice__AttachChunk chunk = SLUICE__ATTACH_CHUNK__INIT;
    chunk.hash = get->hash;
    chunk.offset = get->offset;
    uint8_t *buffer = NULL;
    char path [PATH_MAX];
    int fd = -1;
    struct stat st;
    if (!peer || peer->role != SLUICE__ROLE__ROLE_WORKER)
        chunk.error = "attachments are for workers";
    else if (!sl_attach_hash_valid (get->hash))
        chunk.error = "bad hash";
    else {
        sl_attach_path (self->attach, get->hash, path, sizeof path);
        fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat (fd, &st))
            chunk.error = "this broker does not have it (yet)";
        else if (get->offset > (uint64_t) st.st_size)
            chunk.error = "offset beyond the end";
        else if (!(buffer = malloc (ATTACH_CHUNK)))
            chunk.error = "out of memory";
        else {
            ssize_t got = pread (fd, buffer, ATTACH_CHUNK, (off_t) get->offset);
            if (got < 0)
                chunk.error = "cannot read it";
            else {
                chunk.total = (uint64_t) st.st_size;
                chunk.data.data = buffer;
                chunk.data.len = (size_t) got;
                self->count.attach_bytes_sent += (uint64_t) got;
            }
        }
    }
    if (fd >= 0)
        close (fd);
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_ATTACH_CHUNK;
    env.attach_chunk = &chunk;
    broker_reply (self, routing_id, &env);
    free (buffer);
}
