/*  buf - sluice_buf_t and sluice_result_t memory, see sluice.h.  */
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

int sluice_buf_set (sluice_buf_t *buf, const void *data, size_t size)
{
    void *copy = malloc (size + 1); //  +1: a NUL after the bytes, for text
    if (!copy)
        return -1;
    if (size)
        memcpy (copy, data, size);
    ((char *) copy) [size] = '\0';
    free (buf->data);
    buf->data = copy;
    buf->size = size;
    return 0;
}

int sluice_buf_append (sluice_buf_t *buf, const void *data, size_t size)
{
    char *grown = realloc (buf->data, buf->size + size + 1);
    if (!grown)
        return -1;
    if (size)
        memcpy (grown + buf->size, data, size);
    grown [buf->size + size] = '\0';
    buf->data = grown;
    buf->size += size;
    return 0;
}

void sluice_buf_clear (sluice_buf_t *buf)
{
    if (buf) {
        free (buf->data);
        buf->data = NULL;
        buf->size = 0;
    }
}

//  Frees what a result points to (not the result itself).
static void s_result_clear (sluice_result_t *self)
{
    free (self->worker);
    free (self->output);
    free (self->stderr_tail);
    free (self->id);
    memset (self, 0, sizeof *self);
}

void sluice_result_destroy (sluice_result_t **self_p)
{
    if (self_p && *self_p) {
        s_result_clear (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

void sluice_results_destroy (sluice_result_t **results_p, size_t n)
{
    if (results_p && *results_p) {
        for (size_t i = 0; i < n; i++)
            s_result_clear (&(*results_p) [i]);
        free (*results_p);
        *results_p = NULL;
    }
}
