/* game_server._native: the fast game socket's two per-client paths and a room's per-input path
 * in C (optional; see game_server/native.py, which loads it, and TICKROOM_PURE_PYTHON, which
 * turns it off).
 *
 * - publish(room) is Room._publish with FastSession.wake's state-frame path inlined: for each
 *   joined member, when only its state frame is due, the member's frame is built from the
 *   room's shared frame (StateFrame.for_member) and written to its picows transport.
 * - receive_frame(session, frame) is FastSession.on_ws_frame with EdgeSession.receive: a
 *   joined player's lone INPUT is decoded (protocol._native's decode_input) and queued
 *   (Room._take_input), and a lone ACK (decode_ack) noted (Room._take_ack), without a Python
 *   frame of ours.
 * - process_events(room, events) is Room._process_events with Room._process's INPUT branch:
 *   each queued input to the game's on_input.
 *
 * The module, configure() and the shared helpers are here; publish in _native_publish.c,
 * receive_frame in _native_receive.c, process_events and its configure_room in _native_tick.c.
 *
 * The Python methods stay the definition: each function here takes the checks of its Python
 * twin in the same order and calls a Python method (sink.wake(), session._over_rate(),
 * session._receive_message(), room._take_input(), ...) for every case it does not finish
 * itself, before it has changed anything. tests/server/test_native_edge.py runs the same
 * sessions both ways and compares every byte written and every counter.
 */
#include "_native.h"

/* From configure(). */
PyObject *fast_session_type;  /* game_server.fastsocket.FastSession */
PyObject *state_frame_type;   /* protocol.codec.StateFrame */
PyObject *base_take_input;    /* Room._take_input: inlined only where not overridden */
PyObject *base_take_ack;      /* Room._take_ack, likewise */
PyObject *base_state_frame;   /* Room._state_frame, likewise */
PyObject *client_joined;      /* ClientStatus.JOINED */
PyObject *conn_joined;        /* ConnectionState.JOINED */
PyObject *conn_closed;        /* ConnectionState.CLOSED */
PyObject *role_spectator;     /* Role.SPECTATOR */
PyObject *binary_kind;        /* picows WSMsgType.BINARY */
PyObject *decode_input;       /* protocol.codec.decode_input (C or Python) */
PyObject *decode_ack;         /* protocol.codec.decode_ack */
PyObject *zero, *one;        /* the ints 0 and 1 */
PyObject *float_zero;         /* 0.0 */

PyObject *s_tracker, *s_tick, *s_published_tick, *s_clients, *s_sink, *s_status,
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


/* The exception being raised, taken (a new reference, normalised, its traceback attached),
 * and put back: PyErr_Fetch and friends on 3.11, their 3.12 replacements after. */
PyObject *
take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL && value != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return value;
#endif
}

void
restore_exception(PyObject *exception)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exception);
#else
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exception)), exception,
                  PyException_GetTraceback(exception));
#endif
}

PyObject *
handled_push(PyObject *exc)
{
    _PyErr_StackItem *entry = PyThreadState_Get()->exc_info;
    PyObject *saved = entry->exc_value;
    entry->exc_value = Py_NewRef(exc);
    return saved;
}

void
handled_pop(PyObject *saved)
{
    _PyErr_StackItem *entry = PyThreadState_Get()->exc_info;
    Py_XSETREF(entry->exc_value, saved);
}

int
configured(void)
{
    if (fast_session_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "game_server._native is not configured");
        return 0;
    }
    return 1;
}

int
overrides(PyObject *obj, PyObject *name, PyObject *base)
{
    return _PyType_Lookup(Py_TYPE(obj), name) != base;
}

/* An int attribute as a long long (0, or -1 with an exception set). */
int
as_long_long(PyObject *value, long long *out)
{
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(value);
    Py_DECREF(value);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* A truth value of an attribute: 1, 0, or -1 with an exception set. */
int
attr_true(PyObject *obj, PyObject *name)
{
    int truth;
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) {
        return -1;
    }
    truth = PyObject_IsTrue(value);
    Py_DECREF(value);
    return truth;
}

void
prefetch_object(PyObject *obj)
{
    /* The size comes from the object's type, a read that waits for the object's first line;
     * a fixed four-line span, which does not wait, measured no better (four pairs under load). */
    Py_ssize_t size = Py_TYPE(obj)->tp_basicsize, at;
    for (at = 0; at < size && at < 6 * 64; at += 64) {
        __builtin_prefetch((char *)obj + at);
    }
}

int
slot_true(PyObject *obj, PyObject *name, tr_slot *cache)
{
    int truth;
    PyObject *value = tr_slot_get(obj, name, cache);
    if (value == NULL) {
        return -1;
    }
    truth = value == Py_True                        ? 1
            : value == Py_False || value == Py_None ? 0
                                                    : PyObject_IsTrue(value);
    Py_DECREF(value);
    return truth;
}

int
call_method0(PyObject *obj, PyObject *name)
{
    PyObject *result = PyObject_CallMethodNoArgs(obj, name);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* -- the module ------------------------------------------------------------------------------- */

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *session, *room, *frame, *joined, *cjoined, *cclosed, *spectator, *binary,
        *decoder, *acks, *take, *ack, *build;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOO:configure", &session, &room, &frame, &joined,
                          &cjoined, &cclosed, &spectator, &binary, &decoder, &acks)) {
        return NULL;
    }
    if (!PyType_Check(session) || !PyType_Check(room) || !PyType_Check(frame)) {
        PyErr_SetString(PyExc_TypeError, "configure() needs FastSession, Room and StateFrame");
        return NULL;
    }
    take = _PyType_Lookup((PyTypeObject *)room, s_take_input);
    ack = _PyType_Lookup((PyTypeObject *)room, s_take_ack);
    build = _PyType_Lookup((PyTypeObject *)room, s_state_frame);
    if (take == NULL || ack == NULL || build == NULL) {
        PyErr_SetString(PyExc_TypeError, "Room needs _take_input, _take_ack and _state_frame");
        return NULL;
    }
    Py_XSETREF(base_state_frame, Py_NewRef(build));
    Py_XSETREF(base_take_input, Py_NewRef(take));
    Py_XSETREF(base_take_ack, Py_NewRef(ack));
    Py_XSETREF(state_frame_type, Py_NewRef(frame));
    Py_XSETREF(fast_session_type, Py_NewRef(session));
    Py_XSETREF(client_joined, Py_NewRef(joined));
    Py_XSETREF(conn_joined, Py_NewRef(cjoined));
    Py_XSETREF(conn_closed, Py_NewRef(cclosed));
    Py_XSETREF(role_spectator, Py_NewRef(spectator));
    Py_XSETREF(binary_kind, Py_NewRef(binary));
    Py_XSETREF(decode_input, Py_NewRef(decoder));
    Py_XSETREF(decode_ack, Py_NewRef(acks));
    Py_RETURN_NONE;
}

/* on_ws_frame(session, transport, frame): FastSession.on_ws_frame itself, for the class (the
 * module exports it as an instancemethod, which binds like a Python function): picows calls it
 * for every frame, and this way no Python frame runs in between. */
static PyObject *
gs_on_ws_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *pair[2];
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "on_ws_frame(session, transport, frame)");
        return NULL;
    }
    pair[0] = args[0];
    pair[1] = args[2];
    return gs_receive_frame(module, pair, 2);
}

static PyMethodDef on_ws_frame_def = {
    "on_ws_frame", (PyCFunction)(void (*)(void))gs_on_ws_frame, METH_FASTCALL,
    "on_ws_frame(session, transport, frame): FastSession.on_ws_frame, which is receive_frame(session, "
    "frame)."};

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(FastSession, Room, StateFrame, ClientStatus.JOINED, ConnectionState.JOINED, "
     "ConnectionState.CLOSED, Role.SPECTATOR, WSMsgType.BINARY, decode_input, decode_ack): "
     "what the fast "
     "paths compare with and call; call once, before the first publish or receive_frame."},
    {"publish", gs_publish, METH_O, "publish(room): Room._publish, with FastSession.wake's state "
                                 "frame written here for each member it fits."},
    {"receive_frame", (PyCFunction)(void (*)(void))gs_receive_frame, METH_FASTCALL,
     "receive_frame(session, frame): FastSession.on_ws_frame, with EdgeSession.receive's "
     "INPUT path here."},
    {"configure_room", gs_configure_room, METH_VARARGS,
     "configure_room(Room, _CLIENT_EVENTS, ClientStatus.LEFT, _INVALID): what process_events "
     "compares with; call once, before the first process_events."},
    {"process_events", (PyCFunction)(void (*)(void))gs_process_events, METH_FASTCALL,
     "process_events(room, events): Room._process_events, with Room._process's INPUT path "
     "here; True, or False when the room was disposed on the way."},
    {NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "game_server._native",
    .m_doc = "The fast game socket's per-client paths in C; see game_server/native.py.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    PyObject *module, *function, *method;
#define INTERN(var, text)                                                                   \
    if ((var = PyUnicode_InternFromString(text)) == NULL) {                                 \
        return NULL;                                                                        \
    }
    INTERN(s_tracker, "_tracker");
    INTERN(s_tick, "tick");
    INTERN(s_published_tick, "published_tick");
    INTERN(s_clients, "clients");
    INTERN(s_sink, "sink");
    INTERN(s_status, "status");
    INTERN(s_flushing, "_flushing");
    INTERN(s_transport, "transport");
    INTERN(s_paused, "paused");
    INTERN(s_is_close_frame_sent, "is_close_frame_sent");
    INTERN(s_client, "client");
    INTERN(s_connection, "connection");
    INTERN(s_room, "room");
    INTERN(s_sent_tick, "sent_tick");
    INTERN(s_state, "state");
    INTERN(s_frames, "_frames");
    INTERN(s_frames_tick, "_frames_tick");
    INTERN(s_patch_rate, "patch_rate");
    INTERN(s_binary_server, "_binary_server");
    INTERN(s_outgoing, "_outgoing");
    INTERN(s_last_input_seq, "last_input_seq");
    INTERN(s_prefix, "_prefix");
    INTERN(s_body, "body");
    INTERN(s_pending_frames, "pending_frames");
    INTERN(s_send, "send");
    INTERN(s_wake, "wake");
    INTERN(s_write_failed, "_write_failed");
    INTERN(s_server, "server");
    INTERN(s_metrics, "metrics");
    INTERN(s_frames_out, "frames_out");
    INTERN(s_bytes_out, "bytes_out");
    INTERN(s_now, "_now");
    INTERN(s_last_seen, "last_seen");
    INTERN(s_bucket, "_bucket");
    INTERN(s_tokens, "tokens");
    INTERN(s_stamp, "stamp");
    INTERN(s_rate, "rate");
    INTERN(s_burst, "burst");
    INTERN(s_over_rate, "_over_rate");
    INTERN(s_settings, "settings");
    INTERN(s_max_frame_size, "max_frame_size");
    INTERN(s_too_big, "_too_big");
    INTERN(s_decoder, "_decoder");
    INTERN(s_fed, "_fed");
    INTERN(s_frame_start, "_frame_start");
    INTERN(s_take_input, "_take_input");
    INTERN(s_role, "role");
    INTERN(s_received_seq, "received_seq");
    INTERN(s_queued, "queued");
    INTERN(s_max_input_backlog, "max_input_backlog");
    INTERN(s_events, "_events");
    INTERN(s_append, "append");
    INTERN(s_input, "input");
    INTERN(s_receive_message, "_receive_message");
    INTERN(s_msg_type, "msg_type");
    INTERN(s_fin, "fin");
    INTERN(s_binary_only, "_binary_only");
    INTERN(s_fragments, "_fragments");
    INTERN(s_get_payload_as_bytes, "get_payload_as_bytes");
    INTERN(s_on_frame, "on_frame");
    INTERN(s_receive, "receive");
    INTERN(s_for_member, "for_member");
    INTERN(s_acked_tick, "acked_tick");
    INTERN(s_take_ack, "_take_ack");
    INTERN(s_take, "take");
    INTERN(s_state_frame, "_state_frame");
    INTERN(s_again, "_again");
#undef INTERN
    zero = PyLong_FromLong(0);
    one = PyLong_FromLong(1);
    float_zero = PyFloat_FromDouble(0.0);
    if (zero == NULL || one == NULL || float_zero == NULL) {
        return NULL;
    }
    module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    function = PyCFunction_NewEx(&on_ws_frame_def, module, NULL);
    method = function == NULL ? NULL : PyInstanceMethod_New(function);
    Py_XDECREF(function);
    if (method == NULL || PyModule_AddObject(module, "on_ws_frame", method) < 0) {
        Py_XDECREF(method);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
