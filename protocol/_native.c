/* protocol._native: the tracked map's write in C, and the module (optional; protocol/tracked.py
 * falls back to its own Python when this module is not built, or when TICKROOM_PURE_PYTHON is
 * set: see protocol/native.py). The delta renderer is in _native_delta.c, the INPUT decoder in
 * _native_input.c.
 *
 * MapBase is a dict subclass holding the six attributes every tracked map has (_parent, _key,
 * _tracker, _schema, _dnode, _dgen) in C fields, and a __setitem__ that does the hot case of
 * protocol/tracked.py's _map_setitem -- a string key, a finite number, no precision or a
 * Quantized one with the value in its fast range -- without a Python call: quantise, compare
 * with the stored value, store, mark the dirty node. Every other write, and every delete,
 * calls the Python functions that configure() registers, so the semantics live in one place
 * (tracked.py) and this file mirrors its fast path line by line.
 */
#include "_native.h"
#include <structmember.h>
#include <math.h>

#define MAX_SAFE_INT 9007199254740991LL

typedef struct {
    PyDictObject dict;
    PyObject *parent;
    PyObject *key;
    PyObject *tracker;
    PyObject *schema;
    PyObject *dnode;
    Py_ssize_t dgen;
    PyObject *precisions; /* schema.precisions, cached when _schema is set */
    PyObject *wildcard;   /* schema.wildcard_precision (None when there is none) */
} MapBase;

/* Registered by configure(): the classes and the Python fallbacks. */
static PyObject *tracked_map_type, *tracked_list_type, *quantized_type;
PyObject *tr_list_dirty_type; /* _ListDirty: _native_pack.c reads it too */
static PyObject *slow_setitem, *slow_delitem;
static PyObject *s_gen, *s_step, *s_relative, *s_fast_limit, *s_detach, *s_dirty_node,
    *s_precisions, *s_wildcard_precision, *s_dirty, *s_dgen, *s_dnode, *s_items, *s_tail,
    *s_cached;
static PyObject *minus_one;

/* The fields of the last Quantized used (they are frozen; the reference keeps the address). */
static PyObject *q_seen;
static double q_step, q_limit;
static int q_relative, q_float_step; /* an int step stores ints (int * int): Python does that */

int
tr_attr_double(PyObject *obj, PyObject *name, double *out)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) {
        return -1;
    }
    *out = PyFloat_AsDouble(value);
    Py_DECREF(value);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static int
load_quantized(PyObject *precision)
{
    PyObject *step, *relative;
    double s, l;
    int r, float_step;
    if (precision == q_seen) {
        return 0;
    }
    step = PyObject_GetAttr(precision, s_step);
    if (step == NULL) {
        return -1;
    }
    s = PyFloat_AsDouble(step);
    float_step = PyFloat_CheckExact(step);
    Py_DECREF(step);
    if ((s == -1.0 && PyErr_Occurred()) || tr_attr_double(precision, s_fast_limit, &l) < 0) {
        return -1;
    }
    relative = PyObject_GetAttr(precision, s_relative);
    if (relative == NULL) {
        return -1;
    }
    r = PyObject_IsTrue(relative);
    Py_DECREF(relative);
    if (r < 0) {
        return -1;
    }
    Py_INCREF(precision);
    Py_XSETREF(q_seen, precision);
    q_step = s;
    q_limit = l;
    q_relative = r;
    q_float_step = float_step;
    return 0;
}

static int
call_fallback(PyObject *function, PyObject *self, PyObject *key, PyObject *value)
{
    PyObject *args[3] = {self, key, value};
    PyObject *result = PyObject_Vectorcall(function, args, value == NULL ? 2 : 3, NULL);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* Python's round(x) for a double in range: to nearest, ties to even, and never -0.0 (round()
 * gives an int, and int 0 times the step is +0.0). */
double
tr_round_half_even(double x)
{
    double r = round(x);
    if (fabs(x - r) == 0.5) {
        r = 2.0 * round(x / 2.0);
    }
    return r + 0.0;
}

static PyTypeObject MapBaseType;

/* _child_node of tracked.py: the dirty node for `key` under `pnode` (new reference), created on
 * demand; None when that child travels whole anyway. */
static PyObject *
child_node(PyObject *pnode, PyObject *key, int is_map)
{
    PyObject *slots, *found;
    if (pnode == Py_None) {
        return Py_NewRef(Py_None);
    }
    if ((PyObject *)Py_TYPE(pnode) == tr_list_dirty_type) {
        static tr_slot tail_slot, items_slot; /* _ListDirty's slots */
        PyObject *tail = tr_slot_get(pnode, s_tail, &tail_slot);
        if (tail == NULL) {
            return NULL;
        }
        if (tail != Py_None) {
            int past = PyObject_RichCompareBool(key, tail, Py_GE);
            Py_DECREF(tail);
            if (past < 0) {
                return NULL;
            }
            if (past) {
                return Py_NewRef(Py_None);
            }
        }
        else {
            Py_DECREF(tail);
        }
        slots = tr_slot_get(pnode, s_items, &items_slot);
        if (slots == NULL) {
            return NULL;
        }
    }
    else {
        slots = Py_NewRef(pnode);
    }
    if (!PyDict_Check(slots)) {
        PyErr_SetString(PyExc_TypeError, "a dirty node must be a dict");
        Py_DECREF(slots);
        return NULL;
    }
    found = PyDict_GetItemWithError(slots, key);
    if (found == NULL) {
        if (PyErr_Occurred()) {
            Py_DECREF(slots);
            return NULL;
        }
        found = is_map ? PyDict_New() : PyObject_CallNoArgs(tr_list_dirty_type);
        if (found == NULL || PyDict_SetItem(slots, key, found) < 0) {
            Py_XDECREF(found);
            Py_DECREF(slots);
            return NULL;
        }
        Py_DECREF(found); /* the dict holds it */
    }
    Py_DECREF(slots);
    return Py_NewRef(found == Py_True ? Py_None : found);
}

/* The current generation of `tracker`, or -1 with an exception set. Read on every write: a
 * StateTracker's `gen` is a slot. */
static Py_ssize_t
tracker_gen(PyObject *tracker)
{
    static tr_slot gen_slot;
    Py_ssize_t gen;
    PyObject *value = tr_slot_get(tracker, s_gen, &gen_slot);
    if (value == NULL) {
        return -1;
    }
    gen = PyLong_AsSsize_t(value);
    Py_DECREF(value);
    return gen;
}

static PyObject *map_dirty_node_at(MapBase *self, Py_ssize_t gen);

/* A parent's node this generation (new reference): a map's from its fields, a list's through
 * its attributes, calling its _dirty_node() only when the cached one is stale. */
static PyObject *
parent_node(PyObject *parent, Py_ssize_t gen)
{
    PyObject *value;
    Py_ssize_t pgen;
    if (PyObject_TypeCheck(parent, &MapBaseType)) {
        MapBase *map = (MapBase *)parent;
        if (map->dgen == gen) {
            return Py_NewRef(map->dnode != NULL ? map->dnode : Py_None);
        }
        if (map->tracker == NULL || map->tracker == Py_None) {
            return Py_NewRef(Py_None);
        }
        return map_dirty_node_at(map, gen);
    }
    static tr_slot dgen_slot, dnode_slot; /* TrackedList's slots */
    value = tr_slot_get(parent, s_dgen, &dgen_slot);
    if (value == NULL) {
        return NULL;
    }
    pgen = PyLong_AsSsize_t(value);
    Py_DECREF(value);
    if (pgen == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (pgen == gen) {
        return tr_slot_get(parent, s_dnode, &dnode_slot);
    }
    return PyObject_CallMethodNoArgs(parent, s_dirty_node);
}

/* _Tracked._dirty_node for a map with a tracker at `gen` (new reference). */
static PyObject *
map_dirty_node_at(MapBase *self, Py_ssize_t gen)
{
    if (self->dgen != gen) {
        PyObject *node;
        if (self->parent == NULL || self->parent == Py_None) {
            static tr_slot dirty_slot; /* StateTracker's slot */
            node = tr_slot_get(self->tracker, s_dirty, &dirty_slot);
        }
        else { /* a parent's node first: as deep as the state, so mind the C stack */
            PyObject *parent = Py_NewRef(self->parent);
            PyObject *key = Py_NewRef(self->key != NULL ? self->key : Py_None);
            PyObject *pnode = NULL;
            if (Py_EnterRecursiveCall(" while marking tracked state") == 0) {
                pnode = parent_node(parent, gen);
                Py_LeaveRecursiveCall();
            }
            node = pnode == NULL ? NULL
                                 : child_node(pnode, key,
                                              (PyObject *)Py_TYPE(self) == tracked_map_type);
            Py_XDECREF(pnode);
            Py_DECREF(key);
            Py_DECREF(parent);
        }
        if (node == NULL) {
            return NULL;
        }
        { /* tracker._cached.append(self) first: the commit lets go of the node it caches */
            static tr_slot cached_slot; /* StateTracker's slot */
            PyObject *cached = tr_slot_get(self->tracker, s_cached, &cached_slot);
            int failed = cached == NULL || PyList_Append(cached, (PyObject *)self) < 0;
            Py_XDECREF(cached);
            if (failed) {
                Py_DECREF(node);
                return NULL;
            }
        }
        Py_XSETREF(self->dnode, node);
        self->dgen = gen;
    }
    return Py_NewRef(self->dnode != NULL ? self->dnode : Py_None);
}

static PyObject *
map_dirty_node(PyObject *op, PyObject *unused)
{
    MapBase *self = (MapBase *)op;
    Py_ssize_t gen;
    if (self->tracker == NULL || self->tracker == Py_None) {
        Py_RETURN_NONE;
    }
    gen = tracker_gen(self->tracker);
    if (gen == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return map_dirty_node_at(self, gen);
}

static int
map_ass_subscript(PyObject *op, PyObject *key, PyObject *value)
{
    MapBase *self = (MapBase *)op;
    PyTypeObject *kind;
    PyObject *precision = NULL, *stored, *old, *tracker;
    double number;
    int relative = 0;

    if (slow_setitem == NULL || slow_delitem == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "protocol._native is not configured");
        return -1;
    }
    if (value == NULL) {
        return call_fallback(slow_delitem, op, key, NULL);
    }
    kind = Py_TYPE(value);
    if (!PyUnicode_CheckExact(key) || (kind != &PyFloat_Type && kind != &PyLong_Type)) {
        return call_fallback(slow_setitem, op, key, value);
    }
    if (kind == &PyFloat_Type) {
        number = PyFloat_AS_DOUBLE(value);
    }
    else {
        int overflow;
        long long integer = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (integer == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (overflow || integer > MAX_SAFE_INT || integer < -MAX_SAFE_INT) {
            return call_fallback(slow_setitem, op, key, value);
        }
        number = (double)integer;
    }
    if (self->precisions != NULL) { /* schema.precisions.get(key) or schema.wildcard_precision */
        precision = PyDict_GetItemWithError(self->precisions, key);
        if (precision == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (precision == NULL || precision == Py_None) {
            precision = self->wildcard;
        }
        if (precision == Py_None) {
            precision = NULL;
        }
    }
    if (precision != NULL) {
        if ((PyObject *)Py_TYPE(precision) != quantized_type) {
            return call_fallback(slow_setitem, op, key, value);
        }
        if (load_quantized(precision) < 0) {
            return -1;
        }
        if (!q_float_step || !(-q_limit <= number && number <= q_limit)) {
            return call_fallback(slow_setitem, op, key, value);
        }
        stored = PyFloat_FromDouble(tr_round_half_even(number / q_step) * q_step);
        if (stored == NULL) {
            return -1;
        }
        relative = q_relative;
    }
    else {
        if (kind == &PyFloat_Type && !isfinite(number)) {
            return call_fallback(slow_setitem, op, key, value);
        }
        stored = Py_NewRef(value);
    }

    old = PyDict_GetItemWithError(op, key);
    if (old == NULL && PyErr_Occurred()) {
        Py_DECREF(stored);
        return -1;
    }
    if (old != NULL && Py_TYPE(old) == Py_TYPE(stored)) {
        int equal;
        if (Py_TYPE(old) == &PyFloat_Type) {
            equal = PyFloat_AS_DOUBLE(old) == PyFloat_AS_DOUBLE(stored);
        }
        else {
            equal = PyObject_RichCompareBool(old, stored, Py_EQ);
            if (equal < 0) {
                Py_DECREF(stored);
                return -1;
            }
        }
        if (equal) {
            Py_DECREF(stored);
            return 0;
        }
    }
    Py_XINCREF(old); /* the dict drops its reference below; the dirty node may keep it */
    if (old != NULL && ((PyObject *)Py_TYPE(old) == tracked_map_type ||
                        (PyObject *)Py_TYPE(old) == tracked_list_type)) {
        PyObject *done = PyObject_CallMethodNoArgs(old, s_detach);
        if (done == NULL) {
            goto fail;
        }
        Py_DECREF(done);
    }
    if (PyDict_SetItem(op, key, stored) < 0) {
        goto fail;
    }
    Py_CLEAR(stored);
    tracker = self->tracker;
    if (tracker != NULL && tracker != Py_None) {
        PyObject *node;
        int failed = 0;
        Py_ssize_t gen = tracker_gen(tracker);
        if (gen == -1 && PyErr_Occurred()) {
            goto fail;
        }
        node = map_dirty_node_at(self, gen);
        if (node == NULL) {
            goto fail;
        }
        if (node != Py_None) {
            if (!relative) {
                failed = PyObject_SetItem(node, key, Py_True) < 0;
            }
            else if (PyDict_CheckExact(node)) { /* below in one lookup: the commonest case */
                PyObject *base = old != NULL && (Py_TYPE(old) == &PyFloat_Type ||
                                                 Py_TYPE(old) == &PyLong_Type)
                                     ? old
                                     : Py_True;
                failed = PyDict_SetDefault(node, key, base) == NULL;
            }
            else {
                int has = PySequence_Contains(node, key);
                if (has < 0) {
                    failed = 1;
                }
                else if (!has) { /* the number at the baseline; True when there was none */
                    PyObject *base = old != NULL && (Py_TYPE(old) == &PyFloat_Type ||
                                                     Py_TYPE(old) == &PyLong_Type)
                                         ? old
                                         : Py_True;
                    failed = PyObject_SetItem(node, key, base) < 0;
                }
            }
        }
        Py_DECREF(node);
        if (failed) {
            goto fail;
        }
    }
    Py_XDECREF(old);
    return 0;
fail:
    Py_XDECREF(stored);
    Py_XDECREF(old);
    return -1;
}

static PyObject *
map_get_schema(PyObject *op, void *closure)
{
    MapBase *self = (MapBase *)op;
    return Py_NewRef(self->schema != NULL ? self->schema : Py_None);
}

static int
map_set_schema(PyObject *op, PyObject *value, void *closure)
{
    MapBase *self = (MapBase *)op;
    PyObject *precisions = NULL, *wildcard = NULL;
    if (value != NULL && value != Py_None) {
        precisions = PyObject_GetAttr(value, s_precisions);
        if (precisions == NULL) {
            return -1;
        }
        if (!PyDict_CheckExact(precisions)) {
            Py_DECREF(precisions);
            PyErr_SetString(PyExc_TypeError, "a schema node's precisions must be a dict");
            return -1;
        }
        wildcard = PyObject_GetAttr(value, s_wildcard_precision);
        if (wildcard == NULL) {
            Py_DECREF(precisions);
            return -1;
        }
    }
    Py_XSETREF(self->schema, Py_XNewRef(value));
    Py_XSETREF(self->precisions, precisions);
    Py_XSETREF(self->wildcard, wildcard);
    return 0;
}

static int
map_traverse(PyObject *op, visitproc visit, void *arg)
{
    MapBase *self = (MapBase *)op;
    Py_VISIT(self->parent);
    Py_VISIT(self->key);
    Py_VISIT(self->tracker);
    Py_VISIT(self->schema);
    Py_VISIT(self->dnode);
    Py_VISIT(self->precisions);
    Py_VISIT(self->wildcard);
    return PyDict_Type.tp_traverse(op, visit, arg);
}

static void
clear_fields(MapBase *self)
{
    Py_CLEAR(self->parent);
    Py_CLEAR(self->key);
    Py_CLEAR(self->tracker);
    Py_CLEAR(self->schema);
    Py_CLEAR(self->dnode);
    Py_CLEAR(self->precisions);
    Py_CLEAR(self->wildcard);
}

static int
map_clear(PyObject *op)
{
    clear_fields((MapBase *)op);
    return PyDict_Type.tp_clear(op);
}

static void
map_dealloc(PyObject *op)
{
    PyObject_GC_UnTrack(op);
    clear_fields((MapBase *)op);
    PyDict_Type.tp_dealloc(op); /* frees the dict's storage, then tp_free */
}

static PyObject *
map_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *self = PyDict_Type.tp_new(type, args, kwds);
    if (self != NULL) {
        ((MapBase *)self)->dgen = -1; /* no dirty node yet, whatever the tracker's gen */
    }
    return self;
}

static PyMemberDef map_members[] = {
    {"_parent", T_OBJECT, offsetof(MapBase, parent), 0, NULL},
    {"_key", T_OBJECT, offsetof(MapBase, key), 0, NULL},
    {"_tracker", T_OBJECT, offsetof(MapBase, tracker), 0, NULL},
    {"_dnode", T_OBJECT, offsetof(MapBase, dnode), 0, NULL},
    {"_dgen", T_PYSSIZET, offsetof(MapBase, dgen), 0, NULL},
    {NULL},
};

static PyGetSetDef map_getset[] = {
    {"_schema", map_get_schema, map_set_schema, NULL, NULL},
    {NULL},
};

static PyMethodDef map_methods[] = {
    {"_dirty_node", map_dirty_node, METH_NOARGS,
     "This map's node in the current dirty tree (created on demand), or None when it is "
     "detached or will travel whole anyway."},
    {NULL},
};

/* dict's own __getitem__ and __contains__, as slots: dict defines both as methods too
 * (METH_COEXIST), and a Python subclass that finds a method instead of a slot wrapper in its
 * bases gets the generic slot_mp_subscript, which looks the method up on every `m[key]`
 * (about 10 ns more a read; a game reads its state this way all tick long). */
static PyObject *
map_subscript(PyObject *op, PyObject *key)
{
    return PyDict_Type.tp_as_mapping->mp_subscript(op, key); /* __missing__ included */
}

static int
map_contains(PyObject *op, PyObject *key)
{
    return PyDict_Type.tp_as_sequence->sq_contains(op, key);
}

static PyMappingMethods map_as_mapping = {
    .mp_subscript = map_subscript,
    .mp_ass_subscript = map_ass_subscript,
};

static PySequenceMethods map_as_sequence = {
    .sq_contains = map_contains,
};

static PyTypeObject MapBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "protocol._native.MapBase",
    .tp_doc = "A dict whose writes record themselves in a tracker (see protocol.tracked).",
    .tp_basicsize = sizeof(MapBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_as_mapping = &map_as_mapping,
    .tp_as_sequence = &map_as_sequence,
    .tp_traverse = map_traverse,
    .tp_clear = map_clear,
    .tp_dealloc = map_dealloc,
    .tp_methods = map_methods,
    .tp_members = map_members,
    .tp_new = map_new,
    .tp_getset = map_getset,
};

/* protocol.diff._release_python: every container in `cached` lets go of its dirty node (a
 * map's C fields are cleared here; a list's slots are set as Python would), then the list is
 * emptied. The nodes are dropped in the order the list holds them. */
static PyObject *
release_nodes(PyObject *module, PyObject *cached)
{
    static tr_slot dnode_slot, dgen_slot; /* TrackedList's slots */
    Py_ssize_t i;
    if (!PyList_CheckExact(cached)) {
        PyErr_SetString(PyExc_TypeError, "release_nodes needs a list");
        return NULL;
    }
    for (i = 0; i < PyList_GET_SIZE(cached); i++) {
        PyObject *item = PyList_GET_ITEM(cached, i);
        if (PyObject_TypeCheck(item, &MapBaseType)) {
            MapBase *map = (MapBase *)item;
            map->dgen = -1;
            Py_CLEAR(map->dnode);
        }
        else {
            int failed;
            Py_INCREF(item); /* the setattr may run code that changes the list */
            failed = tr_slot_set(item, s_dnode, Py_None, &dnode_slot) < 0 ||
                     tr_slot_set(item, s_dgen, minus_one, &dgen_slot) < 0;
            Py_DECREF(item);
            if (failed) {
                return NULL;
            }
        }
    }
    if (PyList_SetSlice(cached, 0, PyList_GET_SIZE(cached), NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *map_type, *list_type, *list_dirty, *quantized, *setitem, *delitem;
    if (!PyArg_ParseTuple(args, "OOOOOO:configure", &map_type, &list_type, &list_dirty,
                          &quantized, &setitem, &delitem)) {
        return NULL;
    }
    Py_XSETREF(tr_list_dirty_type, Py_NewRef(list_dirty));
    Py_XSETREF(tracked_map_type, Py_NewRef(map_type));
    Py_XSETREF(tracked_list_type, Py_NewRef(list_type));
    Py_XSETREF(quantized_type, Py_NewRef(quantized));
    Py_XSETREF(slow_setitem, Py_NewRef(setitem));
    Py_XSETREF(slow_delitem, Py_NewRef(delitem));
    Py_CLEAR(q_seen);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(TrackedMap, TrackedList, _ListDirty, Quantized, setitem, delitem): what the C write needs "
     "from protocol.tracked; call once, before the first write."},
    {"release_nodes", release_nodes, METH_O,
     "release_nodes(cached): protocol.diff._release_python in C (the commit's letting go of "
     "the dirty nodes its containers cached)."},
    {"pack", tr_pack, METH_O,
     "pack(value): protocol.diff's msgpack bytes of a delta, or None for a value holding "
     "anything else than the Packer's common cases (then pack it with the Packer)."},
    {"pack_changes", tr_pack_changes, METH_O,
     "pack_changes(tree): pack() that also takes a change tree's list nodes, as "
     "protocol.diff's tree Packer writes them."},
    {"configure_delta", tr_configure_delta, METH_VARARGS,
     "configure_delta(constants, types, wire, wire_scalar): what the delta renderer needs from "
     "protocol.diff; call once, before the first map_delta."},
    {"map_delta", (PyCFunction)(void (*)(void))tr_map_delta, METH_FASTCALL,
     "map_delta(tree, value, schema): protocol.diff._map_delta (without buckets) in C."},
    {"configure_input", tr_configure_input, METH_VARARGS,
     "configure_input(decode_input, INPUT, MAX_PAYLOAD_DEPTH): the Python decoder (the "
     "definition and the fallback) and the constants; call once, before decode_input."},
    {"decode_input", tr_decode_input, METH_O,
     "decode_input(data): protocol.codec's decode_input in C."},
    {NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "protocol._native",
    .m_doc = "The tracked map's write in C; protocol.tracked uses it when it is built.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    PyObject *module;
#define INTERN(var, text)                                                                   \
    if ((var = PyUnicode_InternFromString(text)) == NULL) {                                 \
        return NULL;                                                                        \
    }
    INTERN(s_gen, "gen");
    INTERN(s_step, "step");
    INTERN(s_relative, "relative");
    INTERN(s_fast_limit, "fast_limit");
    INTERN(s_detach, "_detach");
    INTERN(s_dirty_node, "_dirty_node");
    INTERN(s_precisions, "precisions");
    INTERN(s_wildcard_precision, "wildcard_precision");
    INTERN(s_dirty, "_dirty");
    INTERN(s_dgen, "_dgen");
    INTERN(s_dnode, "_dnode");
    INTERN(s_items, "items");
    INTERN(s_tail, "tail");
    INTERN(s_cached, "_cached");
#undef INTERN
    if ((minus_one = PyLong_FromLong(-1)) == NULL) {
        return NULL;
    }
    if (tr_delta_init() < 0) {
        return NULL;
    }
    MapBaseType.tp_base = &PyDict_Type;
    if (PyType_Ready(&MapBaseType) < 0) {
        return NULL;
    }
    module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "MapBase", (PyObject *)&MapBaseType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
