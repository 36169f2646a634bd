/*  =========================================================================
    fuzz_proto - libFuzzer target for the message decoder, sl_proto_decode

    Every input is one frame as it could arrive from the network. Besides
    not crashing, leaking or tripping a sanitizer, the decoder must keep the
    contract of lib/sl_proto.h:
      - NULL comes with a reason in err, and the same answer with or
        without version_p; *version_p is the envelope's version when
        protobuf-c can read it, else 0; an envelope is accepted exactly
        when it has this program's version and a body;
      - an envelope it returns has this program's version (also in
        *version_p), a body, and a body name sl_proto_body_name knows;
      - what it accepts re-encodes (sl_proto_encode) into a frame that it
        accepts again, with the same body, and that encodes to the same
        bytes once more (after one round the encoding is a fixed point).
    A broken rule is reported with abort(), so libFuzzer keeps the input.
    Build and run with tests/fuzz/run.sh.
    =========================================================================
*/

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_proto.h"

//  Reports a broken rule and aborts, which libFuzzer records as a crash.
static void s_fail (const char *rule, const char *err)
{
    fprintf (stderr, "fuzz_proto: %s (err: \"%s\")\n", rule, err);
    abort ();
}

//  As s_fail, showing the re-encoded frame in hex.
static void s_fail_frame (const char *rule, const char *err, zframe_t *frame)
{
    fprintf (stderr, "fuzz_proto: re-encoded frame of %zu bytes:", zframe_size (frame));
    for (size_t i = 0; i < zframe_size (frame); i++)
        fprintf (stderr, " %02x", zframe_data (frame) [i]);
    fprintf (stderr, "\n");
    s_fail (rule, err);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err [256] = "";
    uint32_t version = UINT32_MAX;
    sl_env_t *env = sl_proto_decode (data, size, &version, err, sizeof err);

    char err_nover [256] = "";
    sl_env_t *env_nover = sl_proto_decode (data, size, NULL, err_nover, sizeof err_nover);
    if (!env != !env_nover)
        s_fail ("decoding depends on whether version_p is given", err_nover);
    sl_proto_free (&env_nover);
    if (env_nover)
        s_fail ("sl_proto_free did not null the pointer", "");

    //  What the header promises, from protobuf-c directly: the peer's
    //  version when the envelope is readable (else 0), and acceptance
    //  exactly when it has our version and a body.
    Sluice__Envelope *raw = size ? sluice__envelope__unpack (NULL, size, data) : NULL;
    if (version != (raw ? raw->version : 0))
        s_fail ("*version_p is not the envelope's version (or 0)", err);
    bool acceptable = raw && raw->version == SL_PROTOCOL_VERSION &&
                      raw->body_case != SLUICE__ENVELOPE__BODY__NOT_SET;
    if (acceptable) {
        //  ... and only if protobuf-c reads its own re-encoding of it: an
        //  unknown field numbered 0 survives one read but not the next,
        //  and the decoder refuses it (say so in err).
        size_t packed_size = sluice__envelope__get_packed_size (raw);
        uint8_t *packed = malloc (packed_size ? packed_size : 1);
        if (!packed)
            abort ();
        sluice__envelope__pack (raw, packed);
        Sluice__Envelope *again = sluice__envelope__unpack (NULL, packed_size, packed);
        if (!again) {
            acceptable = false;
            if (env)
                s_fail ("accepted an envelope whose re-encoding cannot be read", err);
            if (!strstr (err, "field number 0"))
                s_fail ("refused an unreadable re-encoding without saying why", err);
        } else
            sluice__envelope__free_unpacked (again, NULL);
        free (packed);
    }
    if (raw)
        sluice__envelope__free_unpacked (raw, NULL);
    if (acceptable != (env != NULL))
        s_fail (env ? "accepted what it should refuse" : "refused a good envelope", err);

    if (!env) {
        if (!err [0])
            s_fail ("NULL without a reason", err);
        return 0;
    }
    if (version != SL_PROTOCOL_VERSION || env->version != SL_PROTOCOL_VERSION)
        s_fail ("accepted an envelope of another version", err);
    if (env->body_case == SLUICE__ENVELOPE__BODY__NOT_SET)
        s_fail ("accepted an envelope without a body", err);
    if (strcmp (sl_proto_body_name (env), "unknown") == 0)
        s_fail ("accepted a body sl_proto_body_name does not know", err);

    zframe_t *frame = sl_proto_encode (env);
    if (!frame)
        s_fail ("cannot re-encode an accepted envelope", err);
    sl_env_t *again =
        sl_proto_decode (zframe_data (frame), zframe_size (frame), &version, err, sizeof err);
    if (!again)
        s_fail_frame ("re-encoded envelope is refused", err, frame);
    if (again->body_case != env->body_case)
        s_fail_frame ("re-encoded envelope has another body", sl_proto_body_name (again), frame);
    zframe_t *frame_again = sl_proto_encode (again);
    if (!frame_again)
        s_fail ("cannot re-encode a re-decoded envelope", err);
    if (!zframe_eq (frame, frame_again))
        s_fail_frame ("encoding is not stable after one round", sl_proto_body_name (env), frame);

    zframe_destroy (&frame_again);
    sl_proto_free (&again);
    zframe_destroy (&frame);
    sl_proto_free (&env);
    return 0;
}
