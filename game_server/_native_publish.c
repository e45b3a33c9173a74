/* game_server._native's publish(room): Room._publish with FastSession.wake's state frame
 * inlined (see _native.c for the rules every function here follows). */
#include "_native.h"

/* Slot caches: Client, StateTracker and StateFrame are slotted, and so are FastSession (e_)
 * and Connection (k_). */
static tr_slot w_flushing, w_again, e_flushing, e_again, e_transport, e_paused, e_client,
    e_connection, k_state, k_binary_server, k_outgoing;
static tr_slot c_sink, c_status, c_connection, c_room, c_sent_tick, c_last_input_seq, w_sent_tick,
    w_pending_frames, t_tick, f_tick, f_prefix, f_body;

/* StateFrame.for_member(last_seq): the frame's prefix, last_seq in msgpack, the shared body. */
static PyObject *
for_member(PyObject *frame, PyObject *last_seq)
{
    PyObject *prefix, *body, *result = NULL;
    unsigned char head[9];
    Py_ssize_t width;
    int overflow;
    long long seq = PyLong_CheckExact(last_seq) ? PyLong_AsLongLongAndOverflow(last_seq, &overflow)
                                                : -1;
    if (seq == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (seq < 0 || (unsigned long long)seq > 0xffffffffULL || /* what the C does not pack */
        (PyObject *)Py_TYPE(frame) != state_frame_type) {          /* or a subclass's own */
        return PyObject_CallMethodOneArg(frame, s_for_member, last_seq);
    }
    if (seq < 128) { /* msgpack: a positive fixint, else uint 8 / 16 / 32 */
        head[0] = (unsigned char)seq;
        width = 1;
    }
    else if (seq <= 0xff) {
        head[0] = 0xcc;
        head[1] = (unsigned char)seq;
        width = 2;
    }
    else if (seq <= 0xffff) {
        head[0] = 0xcd;
        head[1] = (unsigned char)(seq >> 8);
        head[2] = (unsigned char)seq;
        width = 3;
    }
    else {
        head[0] = 0xce;
        head[1] = (unsigned char)(seq >> 24);
        head[2] = (unsigned char)(seq >> 16);
        head[3] = (unsigned char)(seq >> 8);
        head[4] = (unsigned char)seq;
        width = 5;
    }
    prefix = tr_slot_get(frame, s_prefix, &f_prefix);
    body = prefix == NULL ? NULL : tr_slot_get(frame, s_body, &f_body);
    if (body != NULL && PyBytes_CheckExact(prefix) && PyBytes_CheckExact(body)) {
        Py_ssize_t a = PyBytes_GET_SIZE(prefix), b = PyBytes_GET_SIZE(body);
        result = PyBytes_FromStringAndSize(NULL, a + width + b);
        if (result != NULL) {
            char *out = PyBytes_AS_STRING(result);
            memcpy(out, PyBytes_AS_STRING(prefix), a);
            memcpy(out + a, head, width);
            memcpy(out + a + width, PyBytes_AS_STRING(body), b);
        }
    }
    else if (body != NULL) {
        PyErr_SetString(PyExc_TypeError, "a state frame's prefix and body must be bytes");
    }
    Py_XDECREF(prefix);
    Py_XDECREF(body);
    return result;
}

/* FastSession.wake's checks before it writes: 1 when its transport can take a frame now (then
 * *transport is set), 0 when wake() would do something else, -1 with an exception set. */
static int
writable(PyObject *sink, PyObject **transport)
{
    int truth = slot_true(sink, s_flushing, &e_flushing); /* wake() only notes it: run wake() */
    if (truth != 0) {
        return truth < 0 ? -1 : 0;
    }
    *transport = tr_slot_get(sink, s_transport, &e_transport);
    if (*transport == NULL) {
        return -1;
    }
    if (*transport == Py_None || (truth = slot_true(sink, s_paused, &e_paused)) != 0 ||
        (truth = attr_true(*transport, s_is_close_frame_sent)) != 0) {
        truth = *transport == Py_None ? 0 : truth < 0 ? -1 : 0;
        Py_CLEAR(*transport);
        return truth;
    }
    return 1;
}

/* What fast_frame needs of the room: read once per publish, and again after any call into
 * Python (a member's wake() builds the room's shared frame for its baseline). */
typedef struct {
    PyObject *room;
    long long published; /* the tracker's tick, which publish() set as published_tick */
    PyObject *frames;    /* room._frames when it holds this tick's frames, else NULL */
    long long patch_rate;
} room_view;

/* (Re)read `view` from its room: 0, or -1 with an exception set. */
static int
read_room(room_view *view)
{
    long long frames_tick;
    Py_CLEAR(view->frames);
    if (as_long_long(PyObject_GetAttr(view->room, s_frames_tick), &frames_tick) < 0 ||
        as_long_long(PyObject_GetAttr(view->room, s_patch_rate), &view->patch_rate) < 0) {
        return -1;
    }
    if (frames_tick == view->published) { /* Room._state_frame's cache is this tick's */
        view->frames = PyObject_GetAttr(view->room, s_frames);
        if (view->frames == NULL) {
            return -1;
        }
        if (!PyDict_CheckExact(view->frames)) {
            Py_CLEAR(view->frames);
        }
    }
    return 0;
}

/* The member's state frame, when FastSession.wake (inside its try) would write it and nothing
 * else: 1 with *data and *tick set, 2 when all but the frame holds and the room has not built
 * its shared frame for this baseline yet (the caller builds it: build_frame), 0 when anything
 * else applies (then the caller runs sink.wake(), which finds the same), or -1 with an
 * exception set. Nothing is changed here. */
static int
fast_frame(PyObject *client, PyObject *sink, const room_view *view, PyObject **data,
           PyObject **tick_out)
{
    PyObject *conn = NULL, *other = NULL, *frame = NULL, *key = NULL, *tick = NULL, *value;
    long long sent, frame_tick;
    int truth, result = -1;

    other = tr_slot_get(sink, s_client, &e_client);
    conn = tr_slot_get(sink, s_connection, &e_connection);
    if (other == NULL || conn == NULL) {
        goto done;
    }
    value = tr_slot_get(client, s_connection, &c_connection);
    if (value == NULL) {
        goto done;
    }
    Py_DECREF(value); /* only its identity is compared */
    if (other != client || value != conn || conn == Py_None) {
        result = 0;
        goto done;
    }
    /* Client.state_to_send: the room is this one, a newer tick, a joined connection */
    value = tr_slot_get(client, s_room, &c_room);
    if (value == NULL) {
        goto done;
    }
    Py_DECREF(value);
    if (value != view->room ||
        as_long_long(tr_slot_get(client, s_sent_tick, &c_sent_tick), &sent) < 0) {
        result = value != view->room ? 0 : -1;
        goto done;
    }
    if (view->published <= sent) {
        result = 0;
        goto done;
    }
    value = tr_slot_get(conn, s_state, &k_state);
    if (value == NULL) {
        goto done;
    }
    Py_DECREF(value);
    if (value != conn_joined) {
        result = 0;
        goto done;
    }
    /* the room's shared frame for this baseline, when it is built already */
    if (view->frames == NULL) {
        result = 2;
        goto done;
    }
    key = PyLong_FromLongLong(sent);
    if (key == NULL) {
        goto done;
    }
    frame = PyDict_GetItemWithError(view->frames, key);
    if (frame == NULL) {
        result = PyErr_Occurred() ? -1 : 2; /* not built yet */
        goto done;
    }
    Py_INCREF(frame);
    tick = tr_slot_get(frame, s_tick, &f_tick);
    if (tick == NULL) {
        goto done;
    }
    frame_tick = PyLong_AsLongLong(tick);
    if (frame_tick == -1 && PyErr_Occurred()) {
        goto done;
    }
    if (sent >= 0) { /* ticks folded into this frame are counted by the Python path */
        if (view->patch_rate <= 0 || (frame_tick - sent) / view->patch_rate - 1 > 0) {
            result = 0;
            goto done;
        }
    }
    /* Connection.state_to_send: a binary server connection with nothing queued */
    if ((truth = slot_true(conn, s_binary_server, &k_binary_server)) <= 0) {
        result = truth;
        goto done;
    }
    value = tr_slot_get(conn, s_outgoing, &k_outgoing);
    if (value == NULL) {
        goto done;
    }
    truth = PyList_CheckExact(value) && PyList_GET_SIZE(value) == 0;
    Py_DECREF(value);
    if (!truth) {
        result = 0;
        goto done;
    }
    value = tr_slot_get(client, s_last_input_seq, &c_last_input_seq);
    if (value == NULL) {
        goto done;
    }
    *data = for_member(frame, value);
    Py_DECREF(value);
    if (*data == NULL) {
        goto done;
    }
    *tick_out = Py_NewRef(tick);
    result = 1;
done:
    Py_XDECREF(other);
    Py_XDECREF(conn);
    Py_XDECREF(key);
    Py_XDECREF(frame);
    Py_XDECREF(tick);
    return result;
}

/* FastSession._write_failed(transport, exc) with the exception that is set (wake()'s
 * `except Exception`; anything else, a KeyboardInterrupt say, goes on up as it would). */
static int
write_failed(PyObject *sink, PyObject *transport)
{
    PyObject *exception, *result, *saved;
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return -1;
    }
    exception = take_exception();
    saved = exception != NULL ? handled_push(exception) : NULL; /* inside the except clause */
    result = PyObject_CallMethodObjArgs(sink, s_write_failed, transport,
                                        exception != NULL ? exception : Py_None, NULL);
    if (exception != NULL) {
        handled_pop(saved);
    }
    Py_XDECREF(exception);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* Add `amount` to metrics.<name>. */
static int
add_count(PyObject *metrics, PyObject *name, long long amount)
{
    PyObject *value, *sum, *delta;
    int failed;
    if (amount == 0) {
        return 0;
    }
    value = PyObject_GetAttr(metrics, name);
    if (value == NULL) {
        return -1;
    }
    delta = PyLong_FromLongLong(amount);
    sum = delta == NULL ? NULL : PyNumber_Add(value, delta);
    Py_DECREF(value);
    Py_XDECREF(delta);
    if (sum == NULL) {
        return -1;
    }
    failed = PyObject_SetAttr(metrics, name, sum);
    Py_DECREF(sum);
    return failed;
}

/* What wake() does next when the room's frame for the member's baseline is not built yet:
 * room._state_frame(client.sent_tick) (Client._due_frame's call) inside wake()'s _flushing
 * guard (with _again reset, as wake() does), and the room read again. 0; 2 when a wake() came
 * in meanwhile (_again: after the frame, wake() must drain); 1 when it raised and wake()'s
 * except and finally did their part (write_failed with the guard still up, then the guard
 * down); -1 with an exception set when that failed too. */
static int
build_frame(PyObject *client, PyObject *sink, PyObject *transport, room_view *view)
{
    PyObject *sent, *frame = NULL, *exception;
    int built, failed, again;
    if (tr_slot_set(sink, s_flushing, Py_True, &w_flushing) < 0 ||
        tr_slot_set(sink, s_again, Py_False, &w_again) < 0) {
        return -1;
    }
    sent = tr_slot_get(client, s_sent_tick, &c_sent_tick);
    if (sent != NULL) {
        frame = PyObject_CallMethodOneArg(view->room, s_state_frame, sent);
        Py_DECREF(sent);
    }
    built = frame != NULL;
    failed = !built && write_failed(sink, transport) < 0;
    Py_XDECREF(frame);
    exception = failed ? take_exception() : NULL; /* the finally runs with it set */
    if (tr_slot_set(sink, s_flushing, Py_False, &w_flushing) < 0) {
        Py_XDECREF(exception); /* the finally's own error replaces it, as in Python */
        return -1;
    }
    if (failed) {
        restore_exception(exception);
        return -1;
    }
    if (read_room(view) < 0) {
        return -1;
    }
    if (!built) {
        return 1;
    }
    again = slot_true(sink, s_again, &e_again); /* a wake() while it ran: wake() goes on to drain */
    return again < 0 ? -1 : again ? 2 : 0;
}

/* sink.wake(), then the room read again: 0, or -1 with an exception set. */
static int
wake(PyObject *sink, room_view *view)
{
    return call_method0(sink, s_wake) < 0 ? -1 : read_room(view);
}

/* One joined member with a sink: its state frame written here, or sink.wake(). */
static int
publish_member(PyObject *client, PyObject *sink, room_view *view, long long *frames,
               long long *bytes)
{
    PyObject *data = NULL, *transport = NULL, *tick = NULL, *sent;
    int fast, again = 0;
    if ((PyObject *)Py_TYPE(sink) != fast_session_type) {
        return wake(sink, view);
    }
    fast = writable(sink, &transport);
    if (fast <= 0) {
        return fast < 0 ? -1 : wake(sink, view);
    }
    fast = fast_frame(client, sink, view, &data, &tick);
    if (fast == 2 && overrides(view->room, s_state_frame, base_state_frame)) {
        fast = 0; /* a room's own _state_frame: wake() calls it, once */
    }
    if (fast == 2) { /* this baseline's frame first, as wake() would build it */
        fast = build_frame(client, sink, transport, view);
        if (fast == 1 || fast < 0) { /* failed: wake()'s except dealt with it, or failed too */
            Py_DECREF(transport);
            return fast < 0 ? -1 : 0;
        }
        again = fast == 2;
        fast = fast_frame(client, sink, view, &data, &tick);
        if (fast == 2) { /* still none: wake() decides */
            fast = 0;
        }
    }
    if (fast <= 0) {
        if (fast < 0) { /* an error inside wake()'s try: what its except does */
            fast = write_failed(sink, transport) < 0 || read_room(view) < 0 ? -1 : 0;
        }
        else {
            fast = wake(sink, view);
        }
        Py_DECREF(transport);
        return fast;
    }
    /* as Client.state_to_send: the baseline moves once the frame is encoded */
    if (tr_slot_set(client, s_sent_tick, tick, &w_sent_tick) < 0 ||
        tr_slot_set(client, s_pending_frames, zero, &w_pending_frames) < 0) {
        fast = write_failed(sink, transport) < 0 || read_room(view) < 0 ? -1 : 1;
        again = 0; /* wake()'s except ends it */
    }
    else {
        /* transport.send never re-enters the session (pause_writing only sets a flag), so
         * wake()'s _flushing guard has nothing to guard here. */
        PyObject *args[3] = {transport, binary_kind, data};
        sent = PyObject_VectorcallMethod(s_send, args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        if (sent == NULL) {
            fast = write_failed(sink, transport) < 0 || read_room(view) < 0 ? -1 : 1;
            again = 0; /* wake()'s except ends it */
        }
        else {
            Py_DECREF(sent);
            *frames += 1;
            *bytes += PyBytes_GET_SIZE(data);
        }
    }
    Py_DECREF(data);
    Py_DECREF(transport);
    Py_DECREF(tick);
    if (fast >= 0 && again) { /* wake() would drain now: a second wake() does, as nothing is due */
        fast = wake(sink, view);
    }
    return fast < 0 ? -1 : 0;
}

/* A room's members were last touched a tick ago, and publishing one reads its Client, then
 * its session, then the session's connection and transport: each read waits on memory, in
 * turn. Asking for them first, level by level, lets the waits overlap. Only reads: nothing
 * here can fail or run code, and a slot whose cache is not filled yet is skipped. */
static void
prefetch_members(PyObject *clients)
{
    PyObject *key, *client, *sinks[64];
    Py_ssize_t pos = 0, count = 0, i;
    while (count < 64 && PyDict_Next(clients, &pos, &key, &client)) {
        prefetch_object(client);
        count++;
    }
    count = 0;
    pos = 0;
    while (count < 64 && PyDict_Next(clients, &pos, &key, &client)) {
        PyObject *sink = slot_peek(client, &c_sink);
        if (sink != NULL && (PyObject *)Py_TYPE(sink) == fast_session_type) {
            prefetch_object(sink);
            sinks[count++] = sink;
        }
    }
    for (i = 0; i < count; i++) {
        PyObject *conn = slot_peek(sinks[i], &e_connection);
        PyObject *transport = slot_peek(sinks[i], &e_transport);
        if (conn != NULL) {
            prefetch_object(conn);
        }
        if (transport != NULL && transport != Py_None) {
            prefetch_object(transport);
        }
    }
}

PyObject *
gs_publish(PyObject *module, PyObject *room)
{
    PyObject *tracker, *tick, *clients, *key, *client, *server = NULL, *metrics = NULL;
    Py_ssize_t pos = 0, size, remaining;
    long long published, frames = 0, bytes = 0;
    int failed = 0;
    room_view view = {room, 0, NULL, 0};
    if (!configured()) {
        return NULL;
    }
    tracker = PyObject_GetAttr(room, s_tracker);
    if (tracker == NULL) {
        return NULL;
    }
    tick = tr_slot_get(tracker, s_tick, &t_tick);
    Py_DECREF(tracker);
    if (tick == NULL) {
        return NULL;
    }
    published = PyLong_AsLongLong(tick);
    if ((published == -1 && PyErr_Occurred()) ||
        PyObject_SetAttr(room, s_published_tick, tick) < 0) {
        Py_DECREF(tick);
        return NULL;
    }
    Py_DECREF(tick);
    view.published = published;
    if (read_room(&view) < 0) {
        Py_XDECREF(view.frames);
        return NULL;
    }
    clients = PyObject_GetAttr(room, s_clients);
    if (clients == NULL) {
        Py_XDECREF(view.frames);
        return NULL;
    }
    if (!PyDict_CheckExact(clients)) {
        Py_DECREF(clients);
        Py_XDECREF(view.frames);
        PyErr_SetString(PyExc_TypeError, "room.clients must be a dict");
        return NULL;
    }
    prefetch_members(clients);
    size = remaining = PyDict_GET_SIZE(clients);
    while (!failed && PyDict_Next(clients, &pos, &key, &client)) {
        PyObject *sink, *status;
        if (remaining-- == 0) { /* as the dict's own iterator: one member too many */
            PyErr_SetString(PyExc_RuntimeError, "dictionary keys changed during iteration");
            failed = 1;
            break;
        }
        Py_INCREF(client);
        sink = tr_slot_get(client, s_sink, &c_sink);
        status = sink == NULL ? NULL : tr_slot_get(client, s_status, &c_status);
        if (status == NULL) {
            failed = 1;
        }
        else if (sink != Py_None && status == client_joined) {
            if ((PyObject *)Py_TYPE(sink) == fast_session_type && server == NULL) {
                /* the metrics, once per publish: a process's sessions share its one server */
                server = PyObject_GetAttr(sink, s_server);
                metrics = server == NULL ? NULL : PyObject_GetAttr(server, s_metrics);
                failed = metrics == NULL;
            }
            if (!failed) {
                failed = publish_member(client, sink, &view, &frames, &bytes) < 0;
            }
            if (!failed && PyDict_GET_SIZE(clients) != size) { /* as the dict's iterator does */
                PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
                failed = 1;
            }
        }
        Py_XDECREF(sink);
        Py_XDECREF(status);
        Py_DECREF(client);
    }
    Py_DECREF(clients);
    if (metrics != NULL && (frames || bytes)) { /* wake() counts each frame: the same sums */
        PyObject *exception = failed ? take_exception() : NULL;
        if (add_count(metrics, s_frames_out, frames) < 0 ||
            add_count(metrics, s_bytes_out, bytes) < 0) {
            failed = 1;
            Py_XDECREF(exception);
        }
        else if (exception != NULL) {
            restore_exception(exception);
        }
    }
    Py_XDECREF(metrics);
    Py_XDECREF(server);
    Py_XDECREF(view.frames);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}
