/* game_server._native's process_events(room, events): Room._process_events, with
 * Room._process's INPUT path inlined (see _native.c for the rules every function here follows:
 * the Python methods are the definition; the C takes their steps in the same order and calls
 * them for every case it does not finish). Two differences a game can see, both documented in
 * game_server/native.py: an error's traceback starts at on_input (Room._run's frame is not
 * there), and a method set on a room instance instead of its class is not looked for. */
#include "_native.h"

/* From configure_room(). */
static PyObject *base_process_events, *base_process, *base_run, *base_validated_input;
static PyObject *client_events; /* room._CLIENT_EVENTS, a frozenset */
static PyObject *client_left;   /* ClientStatus.LEFT */
static PyObject *invalid;       /* room._INVALID: what _validated_input returns for a refusal */
static PyObject *deque_type;    /* collections.deque: what a room queues its events in */
static PyObject *s_process_events, *s_process, *s_run, *s_validated_input, *s_disposed,
    *s_max_inputs_per_tick, *s_recorder, *s_input_model, *s_on_input, *s_contain;

/* Slot caches: Client is slotted. */
static tr_slot c_queued, w_queued, c_status, w_last_input_seq;

/* event[index] (a new reference), or NULL with Python's error for it set. */
static PyObject *
item(PyObject *event, Py_ssize_t index)
{
    PyObject *key, *value;
    if (PyTuple_CheckExact(event)) {
        if (index < PyTuple_GET_SIZE(event)) {
            return Py_NewRef(PyTuple_GET_ITEM(event, index));
        }
        PyErr_SetString(PyExc_IndexError, "tuple index out of range");
        return NULL;
    }
    key = PyLong_FromSsize_t(index);
    if (key == NULL) {
        return NULL;
    }
    value = PyObject_GetItem(event, key);
    Py_DECREF(key);
    return value;
}

/* 1 when `kind == "input"` for a str, 0 when not (then Room._process decides), -1 on error. */
static int
is_input(PyObject *kind)
{
    if (kind == s_input) {
        return 1;
    }
    if (!PyUnicode_CheckExact(kind)) {
        return 0;
    }
    return PyUnicode_Compare(kind, s_input) == 0 ? 1 : PyErr_Occurred() ? -1 : 0;
}

/* Room._run("on_input", room.on_input, client, payload)'s except clause: the Exception that is
 * set goes to room._contain(exc, "on_input") as the exception being handled. 0 when contained,
 * -1 with an exception set (anything but an Exception propagates, as it does in Python). */
static int
contain(PyObject *room)
{
    PyObject *exc, *saved, *result;
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return -1;
    }
    exc = take_exception();
    if (exc == NULL) {
        return -1;
    }
    saved = handled_push(exc); /* `except ... as exc:` makes exc the handled one */
    result = PyObject_CallMethodObjArgs(room, s_contain, exc, s_on_input, NULL);
    handled_pop(saved);
    Py_DECREF(exc);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

/* Room._process(event) for an "input" event (its client given): 0, or -1 with an exception
 * set. */
static int
process_input(PyObject *room, PyObject *event, PyObject *client)
{
    PyObject *value, *queued, *status, *payload = NULL, *result, *seq;
    int failed = -1;
    value = tr_slot_get(client, s_queued, &c_queued); /* client.queued -= 1 */
    if (value == NULL) {
        return -1;
    }
    queued = PyNumber_InPlaceSubtract(value, one);
    Py_DECREF(value);
    if (queued == NULL) {
        return -1;
    }
    failed = tr_slot_set(client, s_queued, queued, &w_queued);
    Py_DECREF(queued);
    if (failed < 0) {
        return -1;
    }
    status = tr_slot_get(client, s_status, &c_status);
    if (status == NULL) {
        return -1;
    }
    Py_DECREF(status); /* only its identity is compared */
    if (status == client_left) {
        return 0; /* it left before its turn: the event is void */
    }
    failed = -1;
    value = PyObject_GetAttr(room, s_recorder); /* recorder(self.tick, event) */
    if (value == NULL) {
        return -1;
    }
    if (value != Py_None) {
        PyObject *tick = PyObject_GetAttr(room, s_tick);
        result = tick == NULL ? NULL : PyObject_CallFunctionObjArgs(value, tick, event, NULL);
        Py_XDECREF(tick);
        Py_XDECREF(result);
        if (result == NULL) {
            Py_DECREF(value);
            return -1;
        }
    }
    Py_DECREF(value);
    payload = item(event, 3); /* self._validated_input(client, event[3]) */
    if (payload == NULL) {
        return -1;
    }
    value = PyObject_GetAttr(room, s_input_model); /* the method's first step */
    if (value == NULL) {
        goto done;
    }
    Py_DECREF(value); /* only compared with None */
    if (value != Py_None) {
        Py_SETREF(payload, PyObject_CallMethodObjArgs(room, s_validated_input, client, payload,
                                                      NULL));
        if (payload == NULL) {
            goto done;
        }
    }
    if (payload != invalid) { /* self._run("on_input", self.on_input, client, payload) */
        PyObject *on_input = PyObject_GetAttr(room, s_on_input); /* outside _run's try */
        if (on_input == NULL) {
            goto done;
        }
        {
            PyObject *args[2] = {client, payload};
            result = PyObject_Vectorcall(on_input, args, 2, NULL);
        }
        Py_DECREF(on_input);
        if (result == NULL) {
            failed = contain(room); /* refused: last_input_seq stays */
            goto done;
        }
        Py_DECREF(result);
    }
    seq = item(event, 2); /* an invalid input is processed too: refused */
    if (seq == NULL) {
        goto done;
    }
    failed = tr_slot_set(client, s_last_input_seq, seq, &w_last_input_seq);
    Py_DECREF(seq);
done:
    Py_XDECREF(payload);
    return failed;
}

/* One event: the cap on a client's turns, then _process (inlined for an input). 0, or -1. */
static int
process_event(PyObject *room, PyObject *event, PyObject *turns, PyObject *cap, int inlined)
{
    PyObject *kind, *client = NULL, *turn, *next, *queue, *result;
    int test, failed = -1;
    kind = item(event, 0);
    if (kind == NULL) {
        return -1;
    }
    test = PySet_Contains(client_events, kind);
    if (test < 0) {
        goto done;
    }
    if (test) {
        client = item(event, 1);
        if (client == NULL) {
            goto done;
        }
        turn = PyDict_GetItemWithError(turns, client);
        if (turn == NULL && PyErr_Occurred()) {
            goto done;
        }
        turn = Py_NewRef(turn != NULL ? turn : zero); /* held: the comparison may run Python */
        test = PyObject_RichCompareBool(turn, cap, Py_GE);
        if (test < 0) {
            Py_DECREF(turn);
            goto done;
        }
        if (test) { /* over this tick's share: next tick, in order */
            Py_DECREF(turn);
            queue = PyObject_GetAttr(room, s_events);
            result = queue == NULL ? NULL : PyObject_CallMethodOneArg(queue, s_append, event);
            Py_XDECREF(queue);
            Py_XDECREF(result);
            failed = result == NULL ? -1 : 0;
            goto done;
        }
        next = PyNumber_Add(turn, one);
        Py_DECREF(turn);
        if (next == NULL) {
            goto done;
        }
        test = PyDict_SetItem(turns, client, next);
        Py_DECREF(next);
        if (test < 0) {
            goto done;
        }
    }
    test = inlined ? is_input(kind) : 0;
    if (test < 0) {
        goto done;
    }
    if (test && client != NULL && PyTuple_CheckExact(event) && PyTuple_GET_SIZE(event) >= 4) {
        failed = process_input(room, event, client);
        goto done;
    }
    result = PyObject_CallMethodOneArg(room, s_process, event);
    Py_XDECREF(result);
    failed = result == NULL ? -1 : 0;
done:
    Py_XDECREF(client);
    Py_DECREF(kind);
    return failed;
}

/* A tick's events arrived over the last tick interval, and processing one reads its tuple,
 * then its client and payload: each waits on memory in turn. Asking for the tuples first,
 * then for what they hold, lets the waits overlap. Only reads, of a deque (its iterator runs
 * no Python code); anything else is left alone. */
static void
prefetch_events(PyObject *events)
{
    PyObject *iterator, *event, *seen[64];
    Py_ssize_t count = 0, i;
    if ((PyObject *)Py_TYPE(events) != deque_type) {
        return;
    }
    iterator = PyObject_GetIter(events);
    if (iterator == NULL) {
        PyErr_Clear();
        return;
    }
    while (count < 64 && (event = PyIter_Next(iterator)) != NULL) {
        __builtin_prefetch(event);
        __builtin_prefetch((char *)event + 64);
        seen[count++] = event; /* a reference: the deque keeps it anyway */
    }
    PyErr_Clear(); /* a deque's iterator does not fail while nothing changes it */
    Py_DECREF(iterator);
    for (i = 0; i < count; i++) {
        event = seen[i];
        if (PyTuple_CheckExact(event) && PyTuple_GET_SIZE(event) >= 4) {
            prefetch_object(PyTuple_GET_ITEM(event, 1));
            __builtin_prefetch(PyTuple_GET_ITEM(event, 3));
        }
    }
    for (i = 0; i < count; i++) {
        event = seen[i];
        if (PyTuple_CheckExact(event) && PyTuple_GET_SIZE(event) >= 4 &&
            PyDict_CheckExact(PyTuple_GET_ITEM(event, 3))) { /* the payload's table */
            __builtin_prefetch(((PyDictObject *)PyTuple_GET_ITEM(event, 3))->ma_keys);
        }
        Py_DECREF(event);
    }
}

PyObject *
gs_process_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *room, *events, *turns = NULL, *cap = NULL, *iterator = NULL, *event,
                                *answer = NULL;
    int inlined, disposed, failed;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "process_events(room, events) takes 2 arguments");
        return NULL;
    }
    if (base_process_events == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "game_server._native.configure_room was not called");
        return NULL;
    }
    room = args[0];
    events = args[1];
    if (overrides(room, s_process_events, base_process_events)) { /* its own: run it */
        return PyObject_CallMethodOneArg(room, s_process_events, events);
    }
    inlined = !overrides(room, s_process, base_process) && !overrides(room, s_run, base_run) &&
              !overrides(room, s_validated_input, base_validated_input);
    prefetch_events(events);
    turns = PyDict_New();
    cap = turns == NULL ? NULL : PyObject_GetAttr(room, s_max_inputs_per_tick);
    iterator = cap == NULL ? NULL : PyObject_GetIter(events);
    if (iterator == NULL) {
        goto done;
    }
    while ((event = PyIter_Next(iterator)) != NULL) {
        disposed = attr_true(room, s_disposed);
        if (disposed) {
            Py_DECREF(event);
            if (disposed > 0) {
                answer = Py_NewRef(Py_False);
            }
            goto done;
        }
        failed = process_event(room, event, turns, cap, inlined);
        Py_DECREF(event);
        if (failed < 0) {
            goto done;
        }
    }
    if (!PyErr_Occurred()) {
        answer = Py_NewRef(Py_True);
    }
done:
    Py_XDECREF(iterator);
    Py_XDECREF(cap);
    Py_XDECREF(turns);
    return answer;
}

PyObject *
gs_configure_room(PyObject *module, PyObject *args)
{
    PyObject *room, *kinds, *left, *refused, *found[4];
    PyObject **names[] = {&s_process_events, &s_process, &s_run, &s_validated_input};
    if (!PyArg_ParseTuple(args, "O!O!OO:configure_room", &PyType_Type, &room, &PyFrozenSet_Type,
                          &kinds, &left, &refused)) {
        return NULL;
    }
#define INTERN(var, text)                                                                   \
    if (var == NULL && (var = PyUnicode_InternFromString(text)) == NULL) {                  \
        return NULL;                                                                        \
    }
    INTERN(s_process_events, "_process_events");
    INTERN(s_process, "_process");
    INTERN(s_run, "_run");
    INTERN(s_validated_input, "_validated_input");
    INTERN(s_disposed, "disposed");
    INTERN(s_max_inputs_per_tick, "max_inputs_per_tick");
    INTERN(s_recorder, "recorder");
    INTERN(s_input_model, "input_model");
    INTERN(s_on_input, "on_input");
    INTERN(s_contain, "_contain");
#undef INTERN
    for (int i = 0; i < 4; i++) {
        found[i] = _PyType_Lookup((PyTypeObject *)room, *names[i]);
        if (found[i] == NULL) {
            return PyErr_Format(PyExc_TypeError, "Room needs %U", *names[i]);
        }
    }
    Py_XSETREF(base_process_events, Py_NewRef(found[0]));
    Py_XSETREF(base_process, Py_NewRef(found[1]));
    Py_XSETREF(base_run, Py_NewRef(found[2]));
    Py_XSETREF(base_validated_input, Py_NewRef(found[3]));
    Py_XSETREF(client_events, Py_NewRef(kinds));
    Py_XSETREF(client_left, Py_NewRef(left));
    Py_XSETREF(invalid, Py_NewRef(refused));
    if (deque_type == NULL) {
        PyObject *collections = PyImport_ImportModule("collections");
        deque_type = collections == NULL ? NULL : PyObject_GetAttrString(collections, "deque");
        Py_XDECREF(collections);
        if (deque_type == NULL) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}
