/* game_server._native: the fast game socket's two per-client paths in C (optional; see
 * game_server/native.py, which loads it, and TICKROOM_PURE_PYTHON, which turns it off).
 *
 * - publish(room) is Room._publish with FastSession.wake's state-frame path inlined: for each
 *   joined member, when only its state frame is due, the member's frame is built from the
 *   room's shared frame (StateFrame.for_member) and written to its picows transport.
 * - receive_frame(session, frame) is FastSession.on_ws_frame with EdgeSession.receive: a
 *   joined player's lone INPUT is decoded (protocol._native's decode_input) and queued
 *   (Room._take_input), and a lone ACK (decode_ack) noted (Room._take_ack), without a Python
 *   frame of ours.
 *
 * The Python methods stay the definition: each function here takes the checks of its Python
 * twin in the same order and calls a Python method (sink.wake(), session._over_rate(),
 * session._receive_message(), room._take_input(), ...) for every case it does not finish
 * itself, before it has changed anything. tests/server/test_native_edge.py runs the same
 * sessions both ways and compares every byte written and every counter.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_native_slot.h"

/* From configure(). */
static PyObject *fast_session_type;  /* game_server.fastsocket.FastSession */
static PyObject *client_joined;      /* ClientStatus.JOINED */
static PyObject *conn_joined;        /* ConnectionState.JOINED */
static PyObject *conn_closed;        /* ConnectionState.CLOSED */
static PyObject *role_spectator;     /* Role.SPECTATOR */
static PyObject *binary_kind;        /* picows WSMsgType.BINARY */
static PyObject *decode_input;       /* protocol.codec.decode_input (C or Python) */
static PyObject *decode_ack;         /* protocol.codec.decode_ack */
static PyObject *zero, *one;        /* the ints 0 and 1 */

static PyObject *s_tracker, *s_tick, *s_published_tick, *s_clients, *s_sink, *s_status,
    *s_flushing, *s_transport, *s_paused, *s_is_close_frame_sent, *s_client, *s_connection,
    *s_room, *s_sent_tick, *s_state, *s_frames, *s_frames_tick, *s_patch_rate, *s_binary_server,
    *s_outgoing, *s_last_input_seq, *s_prefix, *s_body, *s_pending_frames, *s_send, *s_wake,
    *s_write_failed, *s_server, *s_metrics, *s_frames_out, *s_bytes_out, *s_now, *s_last_seen,
    *s_bucket, *s_tokens, *s_stamp, *s_rate, *s_burst, *s_over_rate, *s_settings,
    *s_max_frame_size, *s_too_big, *s_decoder, *s_fed, *s_frame_start, *s_take_input, *s_role,
    *s_received_seq, *s_queued, *s_max_input_backlog, *s_events, *s_append, *s_input,
    *s_receive_message, *s_msg_type, *s_fin, *s_binary_only, *s_fragments,
    *s_get_payload_as_bytes, *s_on_frame, *s_receive, *s_for_member, *s_acked_tick;

/* Slot caches: Client, StateTracker, StateFrame, TokenBucket and FrameDecoder are slotted. */
static tr_slot c_sink, c_status, c_connection, c_room, c_sent_tick, c_last_input_seq,
    c_role, c_received_seq, c_queued, c_acked_tick, w_acked_tick, w_sent_tick, w_pending_frames,
    w_received_seq, w_queued, t_tick, f_tick, f_prefix, f_body, b_tokens, b_stamp, b_rate,
    b_burst, w_tokens, w_stamp, d_fed, d_frame_start;

static int
configured(void)
{
    if (fast_session_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "game_server._native is not configured");
        return 0;
    }
    return 1;
}

/* An int attribute as a long long (0, or -1 with an exception set). */
static int
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
static int
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

static int
call_method0(PyObject *obj, PyObject *name)
{
    PyObject *result = PyObject_CallMethodNoArgs(obj, name);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* -- publish ---------------------------------------------------------------------------------- */

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
    if (seq < 0 || (unsigned long long)seq > 0xffffffffULL) { /* what the C does not pack */
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
    int truth = attr_true(sink, s_flushing); /* wake() only notes it: run wake() */
    if (truth != 0) {
        return truth < 0 ? -1 : 0;
    }
    *transport = PyObject_GetAttr(sink, s_transport);
    if (*transport == NULL) {
        return -1;
    }
    if (*transport == Py_None || (truth = attr_true(sink, s_paused)) != 0 ||
        (truth = attr_true(*transport, s_is_close_frame_sent)) != 0) {
        truth = *transport == Py_None ? 0 : truth < 0 ? -1 : 0;
        Py_CLEAR(*transport);
        return truth;
    }
    return 1;
}

/* The member's state frame, when FastSession.wake (inside its try) would write it and nothing
 * else: 1 with *data and *tick set, 0 when anything else applies (then the caller runs
 * sink.wake(), which finds the same), or -1 with an exception set. Nothing is changed here. */
static int
fast_frame(PyObject *client, PyObject *sink, PyObject *room, long long published,
           PyObject **data, PyObject **tick_out)
{
    PyObject *conn = NULL, *other = NULL, *frames = NULL, *frame = NULL, *key = NULL,
             *tracker = NULL, *value;
    long long sent, frames_tick, tracker_tick, frame_tick, patch_rate;
    int truth, result = -1;

    other = PyObject_GetAttr(sink, s_client);
    conn = PyObject_GetAttr(sink, s_connection);
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
    if (value != room || as_long_long(tr_slot_get(client, s_sent_tick, &c_sent_tick), &sent) < 0) {
        result = value != room ? 0 : -1;
        goto done;
    }
    if (published <= sent) {
        result = 0;
        goto done;
    }
    value = PyObject_GetAttr(conn, s_state);
    if (value == NULL) {
        goto done;
    }
    Py_DECREF(value);
    if (value != conn_joined) {
        result = 0;
        goto done;
    }
    /* the room's shared frame for this baseline, when it is built already */
    tracker = PyObject_GetAttr(room, s_tracker);
    if (tracker == NULL ||
        as_long_long(PyObject_GetAttr(room, s_frames_tick), &frames_tick) < 0 ||
        as_long_long(tr_slot_get(tracker, s_tick, &t_tick), &tracker_tick) < 0) {
        goto done;
    }
    if (frames_tick != tracker_tick) {
        result = 0;
        goto done;
    }
    frames = PyObject_GetAttr(room, s_frames);
    key = PyLong_FromLongLong(sent);
    if (frames == NULL || key == NULL) {
        goto done;
    }
    if (!PyDict_CheckExact(frames)) {
        result = 0;
        goto done;
    }
    frame = PyDict_GetItemWithError(frames, key);
    if (frame == NULL) {
        result = PyErr_Occurred() ? -1 : 0; /* not built yet: wake() builds it */
        goto done;
    }
    Py_INCREF(frame);
    if (as_long_long(tr_slot_get(frame, s_tick, &f_tick), &frame_tick) < 0) {
        goto done;
    }
    if (sent >= 0) { /* ticks folded into this frame are counted by the Python path */
        if (as_long_long(PyObject_GetAttr(room, s_patch_rate), &patch_rate) < 0) {
            goto done;
        }
        if (patch_rate <= 0 || (frame_tick - sent) / patch_rate - 1 > 0) {
            result = 0;
            goto done;
        }
    }
    /* Connection.state_to_send: a binary server connection with nothing queued */
    if ((truth = attr_true(conn, s_binary_server)) <= 0) {
        result = truth;
        goto done;
    }
    value = PyObject_GetAttr(conn, s_outgoing);
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
    *tick_out = tr_slot_get(frame, s_tick, &f_tick);
    if (*tick_out == NULL) {
        Py_CLEAR(*data);
        goto done;
    }
    result = 1;
done:
    Py_XDECREF(other);
    Py_XDECREF(conn);
    Py_XDECREF(tracker);
    Py_XDECREF(frames);
    Py_XDECREF(key);
    Py_XDECREF(frame);
    return result;
}

/* FastSession._write_failed(transport, exc) with the exception that is set (wake()'s
 * `except Exception`; anything else, a KeyboardInterrupt say, goes on up as it would). */
static int
write_failed(PyObject *sink, PyObject *transport)
{
    PyObject *type, *value, *traceback, *result;
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return -1;
    }
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL && value != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    result = PyObject_CallMethodObjArgs(sink, s_write_failed, transport,
                                        value != NULL ? value : Py_None, NULL);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
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

/* One joined member with a sink: its state frame written here, or sink.wake(). */
static int
publish_member(PyObject *client, PyObject *sink, PyObject *room, long long published,
               long long *frames, long long *bytes)
{
    PyObject *data = NULL, *transport = NULL, *tick = NULL, *sent;
    int fast;
    if ((PyObject *)Py_TYPE(sink) != fast_session_type) {
        return call_method0(sink, s_wake);
    }
    fast = writable(sink, &transport);
    if (fast <= 0) {
        return fast < 0 ? -1 : call_method0(sink, s_wake);
    }
    fast = fast_frame(client, sink, room, published, &data, &tick);
    if (fast <= 0) {
        fast = fast < 0 ? write_failed(sink, transport) : call_method0(sink, s_wake);
        Py_DECREF(transport);
        return fast;
    }
    /* as Client.state_to_send: the baseline moves once the frame is encoded */
    if (tr_slot_set(client, s_sent_tick, tick, &w_sent_tick) < 0 ||
        tr_slot_set(client, s_pending_frames, zero, &w_pending_frames) < 0) {
        fast = write_failed(sink, transport) < 0 ? -1 : 1;
    }
    else {
        /* transport.send never re-enters the session (pause_writing only sets a flag), so
         * wake()'s _flushing guard has nothing to guard here. */
        PyObject *args[3] = {transport, binary_kind, data};
        sent = PyObject_VectorcallMethod(s_send, args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        if (sent == NULL) {
            fast = write_failed(sink, transport) < 0 ? -1 : 1;
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
    return fast < 0 ? -1 : 0;
}

static PyObject *
publish(PyObject *module, PyObject *room)
{
    PyObject *tracker, *tick, *clients, *key, *client, *server = NULL, *metrics = NULL;
    Py_ssize_t pos = 0, size;
    long long published, frames = 0, bytes = 0;
    int failed = 0;
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
    clients = PyObject_GetAttr(room, s_clients);
    if (clients == NULL) {
        return NULL;
    }
    if (!PyDict_CheckExact(clients)) {
        Py_DECREF(clients);
        PyErr_SetString(PyExc_TypeError, "room.clients must be a dict");
        return NULL;
    }
    size = PyDict_GET_SIZE(clients);
    while (!failed && PyDict_Next(clients, &pos, &key, &client)) {
        PyObject *sink, *status;
        Py_INCREF(client);
        sink = tr_slot_get(client, s_sink, &c_sink);
        status = sink == NULL ? NULL : tr_slot_get(client, s_status, &c_status);
        if (status == NULL) {
            failed = 1;
        }
        else if (sink != Py_None && status == client_joined) {
            if ((PyObject *)Py_TYPE(sink) == fast_session_type && server == NULL) {
                server = PyObject_GetAttr(sink, s_server); /* the metrics, once per publish */
                metrics = server == NULL ? NULL : PyObject_GetAttr(server, s_metrics);
                failed = metrics == NULL;
            }
            if (!failed) {
                failed = publish_member(client, sink, room, published, &frames, &bytes) < 0;
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
        PyObject *type = NULL, *value = NULL, *traceback = NULL;
        if (failed) {
            PyErr_Fetch(&type, &value, &traceback);
        }
        if (add_count(metrics, s_frames_out, frames) < 0 ||
            add_count(metrics, s_bytes_out, bytes) < 0) {
            failed = 1;
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(traceback);
        }
        else if (type != NULL) {
            PyErr_Restore(type, value, traceback);
        }
    }
    Py_XDECREF(metrics);
    Py_XDECREF(server);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* -- receive ---------------------------------------------------------------------------------- */

/* Room._take_input(client, seq, payload): queued here, or the Python method when it would do
 * anything but queue (a spectator's input, a full backlog). */
static int
take_input(PyObject *client, PyObject *seq, PyObject *payload)
{
    PyObject *room, *role, *value, *events = NULL, *event = NULL, *queued = NULL, *result;
    int test, failed = -1;
    room = tr_slot_get(client, s_room, &c_room);
    if (room == NULL) {
        return -1;
    }
    role = tr_slot_get(client, s_role, &c_role);
    if (role == NULL) {
        goto done;
    }
    Py_DECREF(role);
    if (role == role_spectator) {
        goto python;
    }
    value = tr_slot_get(client, s_received_seq, &c_received_seq);
    if (value == NULL) {
        goto done;
    }
    test = PyObject_RichCompareBool(seq, value, Py_LE);
    Py_DECREF(value);
    if (test != 0) { /* a re-sent input already accepted (reconnection): apply once */
        failed = test < 0 ? -1 : 0;
        goto done;
    }
    value = tr_slot_get(client, s_queued, &c_queued);
    if (value == NULL) {
        goto done;
    }
    queued = PyObject_GetAttr(room, s_max_input_backlog);
    test = queued == NULL ? -1 : PyObject_RichCompareBool(value, queued, Py_GE);
    Py_CLEAR(queued);
    if (test != 0) { /* a full backlog: the Python method counts the drop */
        Py_DECREF(value);
        if (test < 0) {
            goto done;
        }
        goto python;
    }
    queued = PyNumber_Add(value, one);
    Py_DECREF(value);
    events = PyObject_GetAttr(room, s_events);
    event = PyTuple_Pack(4, s_input, client, seq, payload);
    if (queued == NULL || events == NULL || event == NULL ||
        tr_slot_set(client, s_queued, queued, &w_queued) < 0) {
        goto done;
    }
    result = PyObject_CallMethodOneArg(events, s_append, event);
    if (result == NULL) {
        goto done;
    }
    Py_DECREF(result);
    failed = tr_slot_set(client, s_received_seq, seq, &w_received_seq);
    goto done;
python:
    result = PyObject_CallMethodObjArgs(room, s_take_input, client, seq, payload, NULL);
    failed = result == NULL ? -1 : 0;
    Py_XDECREF(result);
done:
    Py_XDECREF(events);
    Py_XDECREF(event);
    Py_XDECREF(queued);
    Py_DECREF(room);
    return failed;
}

/* Room._take_ack(client, tick): client.acked_tick = max(client.acked_tick, tick). */
static int
take_ack(PyObject *client, PyObject *tick)
{
    int newer;
    PyObject *acked = tr_slot_get(client, s_acked_tick, &c_acked_tick);
    if (acked == NULL) {
        return -1;
    }
    newer = PyObject_RichCompareBool(tick, acked, Py_GT); /* max() keeps the first of equals */
    Py_DECREF(acked);
    if (newer <= 0) {
        return newer;
    }
    return tr_slot_set(client, s_acked_tick, tick, &w_acked_tick);
}

/* bucket.tokens = min-like(burst, tokens + (now - stamp) * rate) - 1.0; bucket.stamp = now, as
 * EdgeSession.receive spends a token. Returns the balance (a new reference) or NULL. */
static PyObject *
spend_token(PyObject *bucket, PyObject *now)
{
    PyObject *tokens, *stamp, *rate, *burst, *balance = NULL;
    tokens = tr_slot_get(bucket, s_tokens, &b_tokens);
    stamp = tokens == NULL ? NULL : tr_slot_get(bucket, s_stamp, &b_stamp);
    rate = stamp == NULL ? NULL : tr_slot_get(bucket, s_rate, &b_rate);
    burst = rate == NULL ? NULL : tr_slot_get(bucket, s_burst, &b_burst);
    if (burst == NULL) {
        goto done;
    }
    if (PyFloat_CheckExact(now) && PyFloat_CheckExact(tokens) && PyFloat_CheckExact(stamp) &&
        PyFloat_CheckExact(rate) && PyFloat_CheckExact(burst)) { /* the real case: all floats */
        double sum = PyFloat_AS_DOUBLE(tokens) +
                     (PyFloat_AS_DOUBLE(now) - PyFloat_AS_DOUBLE(stamp)) * PyFloat_AS_DOUBLE(rate);
        double cap = PyFloat_AS_DOUBLE(burst);
        balance = PyFloat_FromDouble((sum < cap ? sum : cap) - 1.0);
    }
    else { /* any other numbers: the same expression, through Python's arithmetic */
        PyObject *elapsed = PyNumber_Subtract(now, stamp), *gained = NULL, *sum = NULL;
        PyObject *one = NULL;
        int less;
        gained = elapsed == NULL ? NULL : PyNumber_Multiply(elapsed, rate);
        sum = gained == NULL ? NULL : PyNumber_Add(tokens, gained);
        less = sum == NULL ? -1 : PyObject_RichCompareBool(sum, burst, Py_LT);
        one = less < 0 ? NULL : PyFloat_FromDouble(1.0);
        balance = one == NULL ? NULL : PyNumber_Subtract(less ? sum : burst, one);
        Py_XDECREF(elapsed);
        Py_XDECREF(gained);
        Py_XDECREF(sum);
        Py_XDECREF(one);
    }
    if (balance != NULL && (tr_slot_set(bucket, s_tokens, balance, &w_tokens) < 0 ||
                            tr_slot_set(bucket, s_stamp, now, &w_stamp) < 0)) {
        Py_CLEAR(balance);
    }
done:
    Py_XDECREF(tokens);
    Py_XDECREF(stamp);
    Py_XDECREF(rate);
    Py_XDECREF(burst);
    return balance;
}

/* EdgeSession.receive(data) for a bytes message: 0, or -1 with an exception set. */
static int
receive_bytes(PyObject *session, PyObject *data)
{
    PyObject *conn, *now = NULL, *value = NULL, *bucket = NULL, *balance = NULL, *client = NULL,
                    *fields = NULL, *result;
    int failed = -1, test;
    long long fed, start;
    conn = PyObject_GetAttr(session, s_connection);
    if (conn == NULL) {
        return -1;
    }
    now = PyObject_CallMethodNoArgs(session, s_now);
    if (now == NULL || PyObject_SetAttr(session, s_last_seen, now) < 0) {
        goto done;
    }
    value = PyObject_GetAttr(conn, s_state);
    if (value == NULL) {
        goto done;
    }
    if (value == conn_closed) {
        failed = 0;
        goto done;
    }
    bucket = PyObject_GetAttr(session, s_bucket);
    balance = bucket == NULL ? NULL : spend_token(bucket, now);
    if (balance == NULL) {
        goto done;
    }
    test = PyFloat_CheckExact(balance) ? PyFloat_AS_DOUBLE(balance) < 0.0
                                       : PyObject_RichCompareBool(balance, zero, Py_LT);
    if (test != 0) { /* the message is dropped */
        if (test > 0) {
            result = PyObject_CallMethodObjArgs(session, s_over_rate, balance, now, NULL);
            failed = result == NULL ? -1 : 0;
            Py_XDECREF(result);
        }
        goto done;
    }
    Py_CLEAR(value);
    value = PyObject_GetAttr(session, s_settings);
    if (value != NULL) {
        Py_SETREF(value, PyObject_GetAttr(value, s_max_frame_size));
    }
    if (value == NULL) {
        goto done;
    }
    {
        PyObject *size = PyLong_FromSsize_t(PyBytes_GET_SIZE(data)); /* len(data) > limit */
        test = size == NULL ? -1 : PyObject_RichCompareBool(size, value, Py_GT);
        Py_XDECREF(size);
    }
    if (test != 0) {
        failed = test > 0 ? call_method0(session, s_too_big) : -1;
        goto done;
    }
    client = PyObject_GetAttr(session, s_client);
    if (client == NULL) {
        goto done;
    }
    if (client != Py_None) {
        Py_SETREF(value, tr_slot_get(client, s_connection, &c_connection));
        if (value == NULL) {
            goto done;
        }
    }
    if (client != Py_None && value == conn) { /* Connection.receive_input, then the queue */
        PyObject *state = PyObject_GetAttr(conn, s_state), *decoder;
        if (state == NULL) {
            goto done;
        }
        Py_DECREF(state);
        test = state == conn_joined ? attr_true(conn, s_binary_server) : 0;
        if (test < 0) {
            goto done;
        }
        if (test) {
            decoder = PyObject_GetAttr(conn, s_decoder);
            if (decoder == NULL ||
                as_long_long(tr_slot_get(decoder, s_fed, &d_fed), &fed) < 0 ||
                as_long_long(tr_slot_get(decoder, s_frame_start, &d_frame_start), &start) < 0) {
                Py_XDECREF(decoder);
                goto done;
            }
            Py_DECREF(decoder);
            if (fed == start) { /* nothing buffered: one whole frame is the message */
                fields = PyObject_CallOneArg(decode_input, data);
                if (fields == NULL) {
                    goto done;
                }
                if (fields != Py_None) {
                    if (!PyTuple_CheckExact(fields) || PyTuple_GET_SIZE(fields) != 2) {
                        PyErr_SetString(PyExc_TypeError, "decode_input must give (seq, payload)");
                        goto done;
                    }
                    failed = take_input(client, PyTuple_GET_ITEM(fields, 0),
                                        PyTuple_GET_ITEM(fields, 1));
                    goto done;
                }
                Py_SETREF(fields, PyObject_CallOneArg(decode_ack, data)); /* receive_ack */
                if (fields == NULL) {
                    goto done;
                }
                if (fields != Py_None) {
                    failed = take_ack(client, fields);
                    goto done;
                }
            }
        }
    }
    result = PyObject_CallMethodOneArg(session, s_receive_message, data);
    failed = result == NULL ? -1 : 0;
    Py_XDECREF(result);
done:
    Py_DECREF(conn);
    Py_XDECREF(now);
    Py_XDECREF(value);
    Py_XDECREF(bucket);
    Py_XDECREF(balance);
    Py_XDECREF(client);
    Py_XDECREF(fields);
    return failed;
}

/* receive_frame(session, frame): FastSession.on_ws_frame. */
static PyObject *
receive_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *session, *frame, *value, *data;
    int hot = 0, failed;
    if (!configured()) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "receive_frame(session, frame)");
        return NULL;
    }
    session = args[0];
    frame = args[1];
    value = PyObject_GetAttr(frame, s_msg_type);
    if (value == NULL) {
        return NULL;
    }
    Py_DECREF(value);
    if (value == binary_kind) { /* a whole binary message, on msgpack, no fragments pending */
        hot = attr_true(frame, s_fin);
        if (hot > 0) {
            hot = attr_true(session, s_binary_only);
        }
        if (hot > 0) {
            hot = attr_true(session, s_fragments);
            hot = hot < 0 ? -1 : !hot;
        }
        if (hot < 0) {
            return NULL;
        }
    }
    if (!hot) {
        value = PyObject_CallMethodOneArg(session, s_on_frame, frame);
        return value;
    }
    data = PyObject_CallMethodNoArgs(frame, s_get_payload_as_bytes);
    if (data == NULL) {
        return NULL;
    }
    if (!PyBytes_CheckExact(data)) { /* a test's stand-in, say: the Python method takes it */
        value = PyObject_CallMethodOneArg(session, s_receive, data);
        Py_DECREF(data);
        return value;
    }
    failed = receive_bytes(session, data);
    Py_DECREF(data);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* -- the module ------------------------------------------------------------------------------- */

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *session, *joined, *cjoined, *cclosed, *spectator, *binary, *decoder, *acks;
    if (!PyArg_ParseTuple(args, "OOOOOOOO:configure", &session, &joined, &cjoined, &cclosed,
                          &spectator, &binary, &decoder, &acks)) {
        return NULL;
    }
    if (!PyType_Check(session)) {
        PyErr_SetString(PyExc_TypeError, "configure() needs the FastSession class first");
        return NULL;
    }
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

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(FastSession, ClientStatus.JOINED, ConnectionState.JOINED, "
     "ConnectionState.CLOSED, Role.SPECTATOR, WSMsgType.BINARY, decode_input, decode_ack): "
     "what the fast "
     "paths compare with and call; call once, before the first publish or receive_frame."},
    {"publish", publish, METH_O, "publish(room): Room._publish, with FastSession.wake's state "
                                 "frame written here for each member it fits."},
    {"receive_frame", (PyCFunction)(void (*)(void))receive_frame, METH_FASTCALL,
     "receive_frame(session, frame): FastSession.on_ws_frame, with EdgeSession.receive's "
     "INPUT path here."},
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
#undef INTERN
    zero = PyLong_FromLong(0);
    one = PyLong_FromLong(1);
    if (zero == NULL || one == NULL) {
        return NULL;
    }
    return PyModule_Create(&native_module);
}
