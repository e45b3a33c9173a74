/* What game_server/_native.c (the module), _native_publish.c, _native_receive.c and
 * _native_tick.c share: one extension module, game_server._native. Built with
 * -fvisibility=hidden: these names stay inside it. */
#ifndef TICKROOM_GS_NATIVE_H
#define TICKROOM_GS_NATIVE_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_native_slot.h"

/* From configure(). */
extern PyObject *fast_session_type;  /* game_server.fastsocket.FastSession */
extern PyObject *state_frame_type;   /* protocol.codec.StateFrame */
extern PyObject *base_take_input;    /* Room._take_input: inlined only where not overridden */
extern PyObject *base_take_ack;      /* Room._take_ack, likewise */
extern PyObject *base_state_frame;   /* Room._state_frame, likewise */
extern PyObject *client_joined;      /* ClientStatus.JOINED */
extern PyObject *conn_joined;        /* ConnectionState.JOINED */
extern PyObject *conn_closed;        /* ConnectionState.CLOSED */
extern PyObject *role_spectator;     /* Role.SPECTATOR */
extern PyObject *binary_kind;        /* picows WSMsgType.BINARY */
extern PyObject *decode_input;       /* protocol.codec.decode_input (C or Python) */
extern PyObject *decode_ack;         /* protocol.codec.decode_ack */
extern PyObject *zero, *one;        /* the ints 0 and 1 */
extern PyObject *float_zero;         /* 0.0 */

extern PyObject *s_tracker, *s_tick, *s_published_tick, *s_clients, *s_sink, *s_status,
    *s_flushing, *s_transport, *s_paused, *s_is_close_frame_sent, *s_client, *s_connection,
    *s_room, *s_sent_tick, *s_state, *s_frames, *s_frames_tick, *s_patch_rate, *s_binary_server,
    *s_outgoing, *s_last_input_seq, *s_prefix, *s_body, *s_pending_frames, *s_send, *s_wake,
    *s_write_failed, *s_server, *s_metrics, *s_frames_out, *s_bytes_out, *s_now, *s_last_seen,
    *s_bucket, *s_tokens, *s_stamp, *s_rate, *s_burst, *s_over_rate, *s_settings,
    *s_max_frame_size, *s_too_big, *s_decoder, *s_fed, *s_frame_start, *s_take_input, *s_role,
    *s_received_seq, *s_queued, *s_max_input_backlog, *s_events, *s_append, *s_input,
    *s_receive_message, *s_msg_type, *s_fin, *s_binary_only, *s_fragments,
    *s_get_payload_as_bytes, *s_on_frame, *s_receive, *s_for_member, *s_acked_tick, *s_take_ack,
    *s_take, *s_state_frame, *s_again;

/* The module's helpers (_native.c; each says what it does there). */
PyObject *take_exception(void);
void restore_exception(PyObject *exception);
/* `except ... as exc:` around a call: handled_push(exc) makes exc the exception being handled
 * (sys.exc_info(), and the __context__ of anything raised) in the current entry of the
 * thread's handled-exception stack, as the interpreter does entering the block; give what it
 * returns to handled_pop() after the call, which puts the entry back. */
PyObject *handled_push(PyObject *exc);
void handled_pop(PyObject *saved);
int configured(void);
/* 1 when `obj`'s class defines `name` other than as `base` (Room's own method, from configure):
 * then the Python method runs instead of its C copy. */
int overrides(PyObject *obj, PyObject *name, PyObject *base);
int as_long_long(PyObject *value, long long *out);
int attr_true(PyObject *obj, PyObject *name);
/* attr_true for a __slots__ attribute read through `cache` (tr_slot_get: any other attribute
 * is a getattr, as attr_true). */
int slot_true(PyObject *obj, PyObject *name, tr_slot *cache);
int call_method0(PyObject *obj, PyObject *name);
/* Ask for an object's first lines of memory (its header and slots, up to six) without waiting
 * for the rest of them: a read that follows soon finds them in the cache. */
void prefetch_object(PyObject *obj);
/* The slot `cache` describes, read from `obj` without a reference or a check beyond the
 * cache's own: NULL when the cache is not for obj's class (yet), or the slot is empty. For
 * prefetching only: the object it gives may be gone by the time it is read. */
static inline PyObject *
slot_peek(PyObject *obj, const tr_slot *cache)
{
    PyTypeObject *type = Py_TYPE(obj);
    if (type != cache->type || type->tp_version_tag != cache->version ||
        !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
        return NULL;
    }
    return *(PyObject **)((char *)obj + cache->offset);
}

/* The module's paths (_native_publish.c, _native_receive.c, _native_tick.c). */
PyObject *gs_publish(PyObject *module, PyObject *room);
PyObject *gs_receive_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *gs_process_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *gs_configure_room(PyObject *module, PyObject *args);  /* its own configure */

#endif
