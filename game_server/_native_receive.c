/* game_server._native's receive_frame(session, frame): FastSession.on_ws_frame with
 * EdgeSession.receive's INPUT and ACK path (see _native.c for the rules every function here
 * follows). */
#include "_native.h"

/* Slot caches: Client, TokenBucket and FrameDecoder are slotted, and so are FastSession (e_)
 * and Connection (k_). */
static tr_slot c_connection, c_room, c_role, c_received_seq, c_queued, c_acked_tick, w_acked_tick,
    w_received_seq, w_queued, b_tokens, b_stamp, b_rate, b_burst, w_tokens, w_stamp, d_fed,
    d_frame_start;
static tr_slot e_connection, e_bucket, e_settings, e_client, e_binary_only, e_fragments,
    w_last_seen, k_state, k_binary_server, k_decoder;

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
    if (overrides(room, s_take_input, base_take_input)) {
        goto python; /* the room's class has its own: run it */
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
    PyObject *acked, *room = tr_slot_get(client, s_room, &c_room);
    if (room == NULL) {
        return -1;
    }
    if (overrides(room, s_take_ack, base_take_ack)) { /* its own: run it */
        PyObject *result = PyObject_CallMethodObjArgs(room, s_take_ack, client, tick, NULL);
        Py_DECREF(room);
        Py_XDECREF(result);
        return result == NULL ? -1 : 0;
    }
    Py_DECREF(room);
    acked = tr_slot_get(client, s_acked_tick, &c_acked_tick);
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

/* TokenBucket.take(now): the balance after spending a token (a new reference), or NULL. The
 * real case, all floats, is here; any other numbers go to the method itself. */
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
    if (!(PyFloat_CheckExact(now) && PyFloat_CheckExact(tokens) && PyFloat_CheckExact(stamp) &&
          PyFloat_CheckExact(rate) && PyFloat_CheckExact(burst))) {
        balance = PyObject_CallMethodOneArg(bucket, s_take, now);
        goto done;
    }
    {
        double sum = PyFloat_AS_DOUBLE(tokens) +
                     (PyFloat_AS_DOUBLE(now) - PyFloat_AS_DOUBLE(stamp)) * PyFloat_AS_DOUBLE(rate);
        double cap = PyFloat_AS_DOUBLE(burst);
        balance = PyFloat_FromDouble((sum < cap ? sum : cap) - 1.0);
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
    conn = tr_slot_get(session, s_connection, &e_connection);
    if (conn == NULL) {
        return -1;
    }
    now = PyObject_CallMethodNoArgs(session, s_now);
    if (now == NULL || tr_slot_set(session, s_last_seen, now, &w_last_seen) < 0) {
        goto done;
    }
    value = tr_slot_get(conn, s_state, &k_state);
    if (value == NULL) {
        goto done;
    }
    if (value == conn_closed) {
        failed = 0;
        goto done;
    }
    bucket = tr_slot_get(session, s_bucket, &e_bucket);
    balance = bucket == NULL ? NULL : spend_token(bucket, now);
    if (balance == NULL) {
        goto done;
    }
    test = PyFloat_CheckExact(balance) ? PyFloat_AS_DOUBLE(balance) < 0.0
                                       : PyObject_RichCompareBool(balance, float_zero, Py_LT);
    if (test != 0) { /* the message is dropped */
        if (test > 0) {
            result = PyObject_CallMethodObjArgs(session, s_over_rate, balance, now, NULL);
            failed = result == NULL ? -1 : 0;
            Py_XDECREF(result);
        }
        goto done;
    }
    Py_CLEAR(value);
    value = tr_slot_get(session, s_settings, &e_settings);
    if (value != NULL) {
        Py_SETREF(value, PyObject_GetAttr(value, s_max_frame_size));
    }
    if (value == NULL) {
        goto done;
    }
    {
        Py_ssize_t limit = PyLong_CheckExact(value) ? PyLong_AsSsize_t(value) : -1;
        if (limit >= 0) { /* len(data) > limit, without a number object */
            test = PyBytes_GET_SIZE(data) > limit;
        }
        else { /* not an int, negative, or out of range: compared as numbers */
            PyObject *size;
            if (limit == -1 && PyErr_Occurred()) {
                PyErr_Clear(); /* the OverflowError of a limit past Py_ssize_t */
            }
            size = PyLong_FromSsize_t(PyBytes_GET_SIZE(data));
            test = size == NULL ? -1 : PyObject_RichCompareBool(size, value, Py_GT);
            Py_XDECREF(size);
        }
    }
    if (test != 0) {
        failed = test > 0 ? call_method0(session, s_too_big) : -1;
        goto done;
    }
    client = tr_slot_get(session, s_client, &e_client);
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
        PyObject *state = tr_slot_get(conn, s_state, &k_state), *decoder;
        if (state == NULL) {
            goto done;
        }
        Py_DECREF(state);
        test = state == conn_joined ? slot_true(conn, s_binary_server, &k_binary_server) : 0;
        if (test < 0) {
            goto done;
        }
        if (test) {
            decoder = tr_slot_get(conn, s_decoder, &k_decoder);
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
PyObject *
gs_receive_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
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
            hot = slot_true(session, s_binary_only, &e_binary_only);
        }
        if (hot > 0) {
            hot = slot_true(session, s_fragments, &e_fragments);
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
    if (!PyBytes_CheckExact(data) || (PyObject *)Py_TYPE(session) != fast_session_type) {
        /* a test's stand-in payload, or a subclass (its own receive): the Python method */
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
