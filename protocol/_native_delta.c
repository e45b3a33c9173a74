/* The delta renderer in C: protocol/diff.py's _map_delta, _map_entry, _entry, _list_delta,
 * _add_member, _render_buckets and _group_values, line by line, for protocol._native.
 *
 * diff.py stays the definition (and runs when this module is not built): every function here
 * mirrors the Python function of the same name, in the same order of checks, and builds the
 * same Python objects, so the msgpack bytes of a delta are the same either way
 * (tests/protocol/test_native.py compares them). Whole values are still rendered by diff.py's
 * _wire and _wire_scalar, which configure_delta() hands over.
 */
#include "_native.h"
#include <math.h>

/* From configure_delta(): the wire constants, the state's types, and the Python renderers. */
static PyObject *c_missing, *c_delete_entry, *c_not_a_field, *c_replace, *c_list, *c_map;
static PyObject *t_map, *t_list, *t_list_dirty, *t_float32, *t_quantized, *t_float32_value;
static PyObject *py_wire, *py_wire_scalar;
static PyObject *s_relative_steps, *s_wildcard_relative_step, *s_precisions,
    *s_wildcard_precision, *s_children, *s_wildcard, *s_step, *s_relative, *s_items, *s_tail;

/* _add_member's buckets (a dict: the keys members changed, as a tuple -> a flat list of
 * [key, mark, child, key, mark, child, ...], each triple one member: no tuple per member),
 * with the last bucket used: the members of a map or list mostly changed the same keys, and a
 * mark whose keys are those very objects, in that order, goes in that bucket without a tuple
 * of its keys being built, hashed and compared. */
typedef struct {
    PyObject *dict;
    PyObject *fields;  /* the last bucket's key (a strong reference, or NULL) */
    PyObject *members; /* and its list (a strong reference, or NULL) */
} Buckets;

static void
buckets_clear(Buckets *buckets)
{
    Py_CLEAR(buckets->dict);
    Py_CLEAR(buckets->fields);
    Py_CLEAR(buckets->members);
}

static PyObject *map_delta(PyObject *tree, PyObject *value, PyObject *schema, Buckets *buckets);
static PyObject *list_delta(PyObject *mark, PyObject *value, PyObject *schema);

#define IS_NUMBER(obj) (Py_IS_TYPE((obj), &PyFloat_Type) || Py_IS_TYPE((obj), &PyLong_Type))

/* round(number / step) as a Python int (number: a float or an int). */
static PyObject *
count_of(PyObject *number, double step)
{
    double value = PyFloat_AsDouble(number);
    if (value == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromDouble(tr_round_half_even(value / step));
}

/* round(now / step) - round(was / step) */
static PyObject *
count_change(PyObject *now, PyObject *was, double step)
{
    PyObject *result, *a, *b;
    if (Py_IS_TYPE(now, &PyFloat_Type) && Py_IS_TYPE(was, &PyFloat_Type)) {
        /* Both counts well inside the doubles' exact integers: their difference is exact too,
         * and a small one is a cached int (the commonest field of moving state). */
        double x = tr_round_half_even(PyFloat_AS_DOUBLE(now) / step);
        double y = tr_round_half_even(PyFloat_AS_DOUBLE(was) / step);
        if (fabs(x) < 4503599627370496.0 && fabs(y) < 4503599627370496.0) { /* 2**52 */
            return PyLong_FromLongLong((long long)(x - y));
        }
    }
    a = count_of(now, step);
    if (a == NULL) {
        return NULL;
    }
    b = count_of(was, step);
    if (b == NULL) {
        Py_DECREF(a);
        return NULL;
    }
    result = PyNumber_Subtract(a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return result;
}

/* [op, value] taking the reference to value */
static PyObject *
pair_steal(PyObject *op, PyObject *value)
{
    PyObject *result;
    if (value == NULL) {
        return NULL;
    }
    result = PyList_New(2);
    if (result == NULL) {
        Py_DECREF(value);
        return NULL;
    }
    PyList_SET_ITEM(result, 0, Py_NewRef(op));
    PyList_SET_ITEM(result, 1, value);
    return result;
}

/* [REPLACE, round(now / step)] */
static PyObject *
replace_count(PyObject *now, double step)
{
    return pair_steal(c_replace, count_of(now, step));
}

/* [*head, *groups]: an edit's fixed items, then its groups (a list, or None for none). */
static PyObject *
with_groups(PyObject *const *head, Py_ssize_t n, PyObject *groups)
{
    Py_ssize_t count = groups == Py_None ? 0 : PyList_GET_SIZE(groups), i;
    PyObject *result = PyList_New(n + count);
    if (result == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        PyList_SET_ITEM(result, i, Py_NewRef(head[i]));
    }
    for (i = 0; i < count; i++) {
        PyList_SET_ITEM(result, n + i, Py_NewRef(PyList_GET_ITEM(groups, i)));
    }
    return result;
}

/* out[key] = rendered, taking the reference to rendered (NULL: its error is already set). */
static int
store(PyObject *out, PyObject *key, PyObject *rendered)
{
    int failed;
    if (rendered == NULL) {
        return -1;
    }
    failed = PyDict_SetItem(out, key, rendered);
    Py_DECREF(rendered);
    return failed;
}

/* getattr(obj, name), a new reference: SchemaNode, _ListDirty and Quantized keep their fields in
 * slots, read through one cache per attribute. */
static tr_slot slot_relative, slot_children, slot_wildcard, slot_tail, slot_items;
#define ATTR(obj, name, cache) tr_slot_get((obj), (name), &(cache))

/* getattr(schema, table).get(key), or getattr(schema, fallback) when the key is missing (or
 * maps to None; or is not a str, with str_only): a new reference. */
static PyObject *
lookup_or(PyObject *schema, PyObject *table, tr_slot *table_slot, PyObject *key,
          PyObject *fallback, tr_slot *fallback_slot, int str_only)
{
    PyObject *found = NULL;
    if (!str_only || PyUnicode_CheckExact(key)) {
        PyObject *entries = tr_slot_get(schema, table, table_slot);
        if (entries == NULL) {
            return NULL;
        }
        found = PyDict_GetItemWithError(entries, key);
        Py_XINCREF(found);
        Py_DECREF(entries);
        if (found == NULL && PyErr_Occurred()) {
            return NULL;
        }
    }
    if (found == NULL || found == Py_None) {
        Py_XDECREF(found);
        found = tr_slot_get(schema, fallback, fallback_slot);
    }
    return found;
}

/* SchemaNode.child(key): None when schema is None. */
static PyObject *
schema_child(PyObject *schema, PyObject *key)
{
    if (schema == Py_None) {
        return Py_NewRef(Py_None);
    }
    static tr_slot children, wildcard;
    return lookup_or(schema, s_children, &children, key, s_wildcard, &wildcard, 1);
}

/* SchemaNode.precision(key), or `precisions.get(key) or wildcard_precision` (the same for the
 * string keys of maps). */
static PyObject *
schema_precision(PyObject *schema, PyObject *key)
{
    static tr_slot precisions, wildcard;
    return lookup_or(schema, s_precisions, &precisions, key, s_wildcard_precision, &wildcard, 1);
}

/* schema.relative_steps.get(key, schema.wildcard_relative_step) as a double; -1 on error
 * (steps are positive or 0). */
static double
schema_relative_step(PyObject *schema, PyObject *key)
{
    double result;
    static tr_slot steps, wildcard;
    PyObject *step =
        lookup_or(schema, s_relative_steps, &steps, key, s_wildcard_relative_step, &wildcard, 0);
    if (step == NULL) {
        return -1.0;
    }
    result = PyFloat_AsDouble(step);
    Py_DECREF(step);
    return result;
}

static double
precision_step(PyObject *precision)
{
    double result;
    return tr_attr_double(precision, s_step, &result) < 0 ? -1.0 : result;
}

static PyObject *
call2(PyObject *function, PyObject *a, PyObject *b)
{
    PyObject *args[2] = {a, b};
    return PyObject_Vectorcall(function, args, 2, NULL);
}

/* _wire(child, schema.child(key)) */
static PyObject *
wire_child(PyObject *child, PyObject *schema, PyObject *key)
{
    PyObject *result, *sub = schema_child(schema, key);
    if (sub == NULL) {
        return NULL;
    }
    result = call2(py_wire, child, sub);
    Py_DECREF(sub);
    return result;
}

/* One member's triple at the end of a bucket's flat list: 0, or -1 with an exception set. */
static int
append_member(PyObject *members, PyObject *key, PyObject *mark, PyObject *child)
{
    return PyList_Append(members, key) < 0 || PyList_Append(members, mark) < 0 ||
                   PyList_Append(members, child) < 0
               ? -1
               : 0;
}

/* 1 when `mark`'s keys are the objects in `fields`, in order. */
static int
same_fields(PyObject *mark, PyObject *fields)
{
    PyObject *field, *unused;
    Py_ssize_t pos = 0, i = 0;
    if (PyDict_GET_SIZE(mark) != PyTuple_GET_SIZE(fields)) {
        return 0;
    }
    while (PyDict_Next(mark, &pos, &field, &unused)) {
        if (field != PyTuple_GET_ITEM(fields, i++)) {
            return 0;
        }
    }
    return 1;
}

/* _add_member: members changed the same keys (in the same order) go in one bucket. */
static int
add_member(Buckets *buckets, PyObject *key, PyObject *mark, PyObject *child)
{
    PyObject *fields, *members, *field, *unused;
    Py_ssize_t pos = 0, i = 0;
    int failed;
    if (buckets->fields != NULL && same_fields(mark, buckets->fields)) {
        return append_member(buckets->members, key, mark, child);
    }
    fields = PyTuple_New(PyDict_GET_SIZE(mark)); /* tuple(mark), without the list */
    if (fields == NULL) {
        return -1;
    }
    while (PyDict_Next(mark, &pos, &field, &unused)) {
        PyTuple_SET_ITEM(fields, i++, Py_NewRef(field));
    }
    members = PyDict_GetItemWithError(buckets->dict, fields);
    if (members == NULL) {
        if (PyErr_Occurred()) {
            failed = 1;
        }
        else {
            members = PyList_New(3);
            failed = members == NULL;
            if (!failed) {
                PyList_SET_ITEM(members, 0, Py_NewRef(key));
                PyList_SET_ITEM(members, 1, Py_NewRef(mark));
                PyList_SET_ITEM(members, 2, Py_NewRef(child));
                failed = PyDict_SetItem(buckets->dict, fields, members) < 0;
                Py_DECREF(members);
            }
        }
    }
    else {
        failed = append_member(members, key, mark, child) < 0;
    }
    if (!failed) { /* the next member most likely changed the same keys */
        Py_XSETREF(buckets->fields, Py_NewRef(fields));
        Py_XSETREF(buckets->members, Py_NewRef(members));
    }
    Py_DECREF(fields);
    return failed ? -1 : 0;
}

static PyObject *render_buckets(PyObject *buckets, PyObject *out, PyObject *schema);

/* _map_entry: a map changed in place, as a nested delta or a map edit with groups. */
static PyObject *
map_entry(PyObject *tree, PyObject *value, PyObject *schema)
{
    PyObject *out, *groups, *result;
    Buckets buckets = {PyDict_New(), NULL, NULL};
    if (buckets.dict == NULL) {
        return NULL;
    }
    out = map_delta(tree, value, schema, &buckets);
    if (out == NULL || PyDict_GET_SIZE(buckets.dict) == 0) {
        buckets_clear(&buckets);
        return out;
    }
    groups = render_buckets(buckets.dict, out, schema);
    buckets_clear(&buckets);
    if (groups == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    if (groups == Py_None) {
        result = Py_NewRef(out);
    }
    else {
        PyObject *head[2] = {c_map, out};
        result = with_groups(head, 2, groups);
    }
    Py_DECREF(groups);
    Py_DECREF(out);
    return result;
}

/* map_entry(mark, child, schema.child(key)) */
static PyObject *
map_entry_under(PyObject *mark, PyObject *child, PyObject *schema, PyObject *key)
{
    PyObject *result, *sub = schema_child(schema, key);
    if (sub == NULL) {
        return NULL;
    }
    result = map_entry(mark, child, sub);
    Py_DECREF(sub);
    return result;
}

/* _entry: a changed key whose value is not a number of a map (or is a map marked whole). */
static PyObject *
entry(PyObject *mark, PyObject *child, PyObject *schema, PyObject *key)
{
    PyObject *value, *kind = (PyObject *)Py_TYPE(child);
    if (kind == t_map) {
        return pair_steal(c_replace, wire_child(child, schema, key));
    }
    if (kind == t_list) {
        if ((PyObject *)Py_TYPE(mark) == t_list_dirty) {
            PyObject *result, *sub = schema_child(schema, key);
            if (sub == NULL) {
                return NULL;
            }
            result = list_delta(mark, child, sub);
            Py_DECREF(sub);
            return result;
        }
        return pair_steal(c_replace, wire_child(child, schema, key));
    }
    {
        PyObject *args[3] = {child, schema, key};
        value = PyObject_Vectorcall(py_wire_scalar, args, 3, NULL);
    }
    if (value == NULL) {
        return NULL;
    }
    if (IS_NUMBER(child) && schema != Py_None) {
        PyObject *precision = schema_precision(schema, key);
        int relative = 0;
        if (precision == NULL) {
            Py_DECREF(value);
            return NULL;
        }
        if ((PyObject *)Py_TYPE(precision) == t_quantized) {
            PyObject *flag = ATTR(precision, s_relative, slot_relative);
            relative = flag == NULL ? -1 : PyObject_IsTrue(flag);
            Py_XDECREF(flag);
        }
        Py_DECREF(precision);
        if (relative < 0) {
            Py_DECREF(value);
            return NULL;
        }
        if (relative) { /* list items travel whole: no baseline value kept */
            return pair_steal(c_replace, value);
        }
    }
    return value;
}

/* The entry of a changed number under `key`, as _map_delta renders it (new reference). */
static PyObject *
number_entry(PyObject *child, PyObject *mark, PyObject *schema, PyObject *key)
{
    PyObject *precision, *result;
    double step;
    if (schema == Py_None) {
        return Py_NewRef(child);
    }
    step = schema_relative_step(schema, key);
    if (step == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (step != 0.0) { /* relative quantised: the change of count since the baseline */
        if (IS_NUMBER(mark)) {
            return count_change(child, mark, step);
        }
        return replace_count(child, step); /* no number at the baseline: whole */
    }
    precision = schema_precision(schema, key);
    if (precision == NULL) {
        return NULL;
    }
    if ((PyObject *)Py_TYPE(precision) == t_float32) {
        result = PyObject_CallOneArg(t_float32_value, child);
    }
    else if ((PyObject *)Py_TYPE(precision) == t_quantized) {
        double own = precision_step(precision);
        result = own == -1.0 && PyErr_Occurred() ? NULL : count_of(child, own);
    }
    else {
        result = Py_NewRef(child);
    }
    Py_DECREF(precision);
    return result;
}

/* _map_delta: the nested delta for the changes `tree` marks in `value`; with `buckets`, maps
 * changed in place are collected there instead of rendered. */
static PyObject *
map_delta(PyObject *tree, PyObject *value, PyObject *schema, Buckets *buckets)
{
    PyObject *out, *key, *mark, *child, *rendered;
    Py_ssize_t pos = 0;
    if (!PyDict_CheckExact(tree) || !PyDict_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "map_delta takes a dirty dict and a tracked map");
        return NULL;
    }
    if (Py_EnterRecursiveCall(" while rendering a state delta")) {
        return NULL;
    }
    out = PyDict_New();
    if (out == NULL) {
        Py_LeaveRecursiveCall();
        return NULL;
    }
    while (PyDict_Next(tree, &pos, &key, &mark)) {
        int failed;
        child = PyDict_GetItemWithError(value, key);
        if (child == NULL && PyErr_Occurred()) {
            goto fail;
        }
        Py_INCREF(key); /* held across calls into Python (_wire, _wire_scalar, Float32Value) */
        Py_INCREF(mark);
        Py_XINCREF(child);
        if (child == NULL) {
            rendered = Py_NewRef(c_delete_entry);
        }
        else if (IS_NUMBER(child)) { /* the hot path: a changed number */
            rendered = number_entry(child, mark, schema, key);
        }
        else if ((PyObject *)Py_TYPE(child) == t_map && PyDict_CheckExact(mark)) {
            if (buckets != NULL) {
                failed = add_member(buckets, key, mark, child) < 0;
                Py_DECREF(child);
                Py_DECREF(mark);
                Py_DECREF(key);
                if (failed) {
                    goto fail;
                }
                continue;
            }
            rendered = map_entry_under(mark, child, schema, key);
        }
        else {
            rendered = entry(mark, child, schema, key);
        }
        failed = store(out, key, rendered) < 0;
        Py_XDECREF(child);
        Py_DECREF(mark);
        Py_DECREF(key);
        if (failed) {
            goto fail;
        }
    }
    Py_LeaveRecursiveCall();
    return out;
fail:
    Py_LeaveRecursiveCall();
    Py_DECREF(out);
    return NULL;
}

/* _group_values: each member's key and its entries for `fields`, set in `flat` from index 1
 * on (`flat` was made with room for exactly those: 1 + members * (1 + fields)). */
static int
group_values(PyObject *fields, PyObject *members, PyObject *schema, PyObject *flat)
{
    Py_ssize_t at = 1;
    Py_ssize_t width = PyTuple_GET_SIZE(fields), count = PyList_GET_SIZE(members) / 3, m, f;
    double *steps;
    PyObject **precisions;
    int failed = 0;
    steps = PyMem_Calloc(width ? width : 1, sizeof(double));
    precisions = PyMem_Calloc(width ? width : 1, sizeof(PyObject *));
    if (steps == NULL || precisions == NULL) {
        PyMem_Free(steps);
        PyMem_Free(precisions);
        PyErr_NoMemory();
        return -1;
    }
    for (f = 0; f < width && schema != Py_None; f++) { /* the plan: once per group */
        PyObject *field = PyTuple_GET_ITEM(fields, f);
        steps[f] = schema_relative_step(schema, field);
        if (steps[f] == -1.0 && PyErr_Occurred()) {
            failed = 1;
            goto done;
        }
        precisions[f] = schema_precision(schema, field);
        if (precisions[f] == NULL) {
            failed = 1;
            goto done;
        }
    }
    for (m = 0; m < count && !failed; m++) {
        PyObject *key = PyList_GET_ITEM(members, 3 * m),
                 *mark = PyList_GET_ITEM(members, 3 * m + 1),
                 *child = PyList_GET_ITEM(members, 3 * m + 2);
        PyList_SET_ITEM(flat, at++, Py_NewRef(key));
        for (f = 0; f < width; f++) {
            PyObject *field = PyTuple_GET_ITEM(fields, f), *now, *item;
            PyObject *precision = precisions[f];
            now = PyDict_GetItemWithError(child, field);
            if (now == NULL && PyErr_Occurred()) {
                failed = 1;
                break;
            }
            if (now == NULL || !IS_NUMBER(now)) { /* _map_delta({field: mark[field]}, ...) */
                PyObject *one, *delta, *was = PyDict_GetItemWithError(mark, field);
                if (was == NULL) {
                    if (!PyErr_Occurred()) {
                        PyErr_SetObject(PyExc_KeyError, field);
                    }
                    failed = 1;
                    break;
                }
                one = PyDict_New();
                if (one == NULL || PyDict_SetItem(one, field, was) < 0) {
                    Py_XDECREF(one);
                    failed = 1;
                    break;
                }
                delta = map_delta(one, child, schema, NULL);
                Py_DECREF(one);
                item = delta == NULL ? NULL : PyDict_GetItemWithError(delta, field);
                Py_XINCREF(item);
                Py_XDECREF(delta);
            }
            else if (steps[f] != 0.0) { /* relative quantised */
                PyObject *was = PyDict_GetItemWithError(mark, field);
                if (was == NULL && !PyErr_Occurred()) {
                    PyErr_SetObject(PyExc_KeyError, field);
                }
                item = was == NULL          ? NULL
                       : IS_NUMBER(was)     ? count_change(now, was, steps[f])
                                            : replace_count(now, steps[f]);
            }
            else if (precision == NULL || precision == Py_None) {
                item = Py_NewRef(now);
            }
            else if ((PyObject *)Py_TYPE(precision) == t_quantized) {
                double own = precision_step(precision);
                item = own == -1.0 && PyErr_Occurred() ? NULL : count_of(now, own);
            }
            else { /* Float32 */
                item = PyObject_CallOneArg(t_float32_value, now);
            }
            if (item == NULL) {
                failed = 1;
                break;
            }
            PyList_SET_ITEM(flat, at++, item);
        }
    }
done:
    for (f = 0; f < width; f++) {
        Py_XDECREF(precisions[f]);
    }
    PyMem_Free(steps);
    PyMem_Free(precisions);
    return failed ? -1 : 0;
}

/* _render_buckets: lone maps into `out` as nested deltas; a group (a list) for each set of two
 * or more that changed the same keys. Returns a list of groups, or None when there is none. */
static PyObject *
render_buckets(PyObject *buckets, PyObject *out, PyObject *schema)
{
    PyObject *fields, *members, *groups = NULL, *children = NULL, *wildcard = NULL;
    Py_ssize_t pos = 0;
    int exact = 0;
    if (schema != Py_None) { /* exact patterns: a schema per key */
        children = ATTR(schema, s_children, slot_children);
        if (children == NULL) {
            return NULL;
        }
        exact = PyObject_IsTrue(children);
        Py_DECREF(children);
        if (exact < 0) {
            return NULL;
        }
    }
    while (PyDict_Next(buckets, &pos, &fields, &members)) {
        Py_ssize_t count = PyList_GET_SIZE(members) / 3, m;
        PyObject *flat, *names;
        int lone = count == 1 ? 1 : PySequence_Contains(fields, c_not_a_field);
        if (lone < 0) {
            goto fail;
        }
        if (lone) {
            for (m = 0; m < count; m++) {
                PyObject *key = PyList_GET_ITEM(members, 3 * m);
                if (store(out, key,
                          map_entry_under(PyList_GET_ITEM(members, 3 * m + 1),
                                          PyList_GET_ITEM(members, 3 * m + 2), schema, key)) < 0) {
                    goto fail;
                }
            }
            continue;
        }
        names = PySequence_List(fields);
        flat = names == NULL ? NULL
                             : PyList_New(exact ? 1 : 1 + count * (1 + PyTuple_GET_SIZE(fields)));
        if (flat != NULL && !exact) { /* out of gc's reach while group_values fills its slots */
            PyObject_GC_UnTrack(flat);
        }
        if (flat == NULL) {
            Py_XDECREF(names);
            goto fail;
        }
        PyList_SET_ITEM(flat, 0, names);
        if (exact) {
            for (m = 0; m < count; m++) {
                PyObject *sub, *delta, *value, *key = PyList_GET_ITEM(members, 3 * m);
                Py_ssize_t at = 0;
                if (PyList_Append(flat, key) < 0) {
                    Py_DECREF(flat);
                    goto fail;
                }
                sub = schema_child(schema, key);
                delta = sub == NULL ? NULL
                                    : map_delta(PyList_GET_ITEM(members, 3 * m + 1),
                                                PyList_GET_ITEM(members, 3 * m + 2), sub, NULL);
                Py_XDECREF(sub);
                if (delta == NULL) {
                    Py_DECREF(flat);
                    goto fail;
                }
                while (PyDict_Next(delta, &at, &key, &value)) {
                    if (PyList_Append(flat, value) < 0) {
                        Py_DECREF(delta);
                        Py_DECREF(flat);
                        goto fail;
                    }
                }
                Py_DECREF(delta);
            }
        }
        else {
            if (schema != Py_None) {
                wildcard = ATTR(schema, s_wildcard, slot_wildcard);
                if (wildcard == NULL) {
                    Py_DECREF(flat);
                    goto fail;
                }
            }
            if (group_values(fields, members, wildcard != NULL ? wildcard : Py_None, flat) < 0) {
                Py_CLEAR(wildcard);
                Py_DECREF(flat);
                goto fail;
            }
            Py_CLEAR(wildcard);
            PyObject_GC_Track(flat); /* every slot filled */
        }
        if (groups == NULL) {
            groups = PyList_New(0);
            if (groups == NULL) {
                Py_DECREF(flat);
                goto fail;
            }
        }
        if (PyList_Append(groups, flat) < 0) {
            Py_DECREF(flat);
            goto fail;
        }
        Py_DECREF(flat);
    }
    return groups != NULL ? groups : Py_NewRef(Py_None);
fail:
    Py_XDECREF(groups);
    return NULL;
}

/* _list_delta: a list edited in place, as [LIST, length, entries, *groups]. */
static PyObject *
list_delta(PyObject *mark, PyObject *value, PyObject *schema)
{
    PyObject *items = NULL, *tail_object = NULL, *entries = NULL;
    Buckets buckets = {NULL, NULL, NULL};
    PyObject *groups = NULL, *result = NULL, *index_object, *child_mark, *length_object = NULL;
    Py_ssize_t length, tail, pos = 0, index;
    int failed;
    if (!PyList_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "list_delta takes a tracked list");
        return NULL;
    }
    length = PyList_GET_SIZE(value);
    tail_object = ATTR(mark, s_tail, slot_tail);
    if (tail_object == NULL) {
        return NULL;
    }
    if (tail_object == Py_None) {
        tail = length;
    }
    else {
        tail = PyLong_AsSsize_t(tail_object);
        if (tail == -1 && PyErr_Occurred()) {
            goto done;
        }
    }
    items = ATTR(mark, s_items, slot_items);
    entries = PyDict_New();
    buckets.dict = PyDict_New();
    if (items == NULL || entries == NULL || buckets.dict == NULL || !PyDict_Check(items)) {
        if (items != NULL && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "a list's dirty items must be a dict");
        }
        goto done;
    }
    while (PyDict_Next(items, &pos, &index_object, &child_mark)) {
        PyObject *item, *rendered;
        index = PyLong_AsSsize_t(index_object);
        if (index == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (index >= tail) {
            continue;
        }
        item = PySequence_GetItem(value, index); /* value[index], an IndexError past it */
        if (item == NULL) {
            goto done;
        }
        if ((PyObject *)Py_TYPE(item) == t_map && PyDict_CheckExact(child_mark)) {
            failed = add_member(&buckets, index_object, child_mark, item) < 0; /* an entity */
            Py_DECREF(item);
            if (failed) {
                goto done;
            }
            continue;
        }
        Py_INCREF(index_object); /* entry() may call into Python: hold what the dict lent */
        Py_INCREF(child_mark);
        rendered = entry(child_mark, item, schema, index_object);
        Py_DECREF(item);
        failed = store(entries, index_object, rendered) < 0;
        Py_DECREF(child_mark);
        Py_DECREF(index_object);
        if (failed) {
            goto done;
        }
    }
    for (index = tail; index < length; index++) {
        PyObject *key = PyLong_FromSsize_t(index), *item, *rendered;
        if (key == NULL) {
            goto done;
        }
        item = PySequence_GetItem(value, index);
        if (item == NULL) {
            Py_DECREF(key);
            goto done;
        }
        rendered = entry(Py_True, item, schema, key);
        Py_DECREF(item);
        failed = store(entries, key, rendered) < 0;
        Py_DECREF(key);
        if (failed) {
            goto done;
        }
    }
    if (PyDict_GET_SIZE(buckets.dict)) {
        groups = render_buckets(buckets.dict, entries, schema);
        if (groups == NULL) {
            goto done;
        }
    }
    length_object = PyLong_FromSsize_t(length);
    if (length_object != NULL) {
        PyObject *head[3] = {c_list, length_object, entries};
        result = with_groups(head, 3, groups != NULL ? groups : Py_None);
    }
done:
    Py_XDECREF(length_object);
    Py_XDECREF(groups);
    buckets_clear(&buckets);
    Py_XDECREF(entries);
    Py_XDECREF(items);
    Py_XDECREF(tail_object);
    return result;
}

PyObject *
tr_map_delta(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "map_delta(tree, value, schema) takes 3 arguments");
        return NULL;
    }
    if (py_wire == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "protocol._native's delta is not configured");
        return NULL;
    }
    return map_delta(args[0], args[1], args[2], NULL);
}

PyObject *
tr_configure_delta(PyObject *module, PyObject *args)
{
    PyObject *constants, *types, *wire, *wire_scalar;
    if (!PyArg_ParseTuple(args, "O!O!OO:configure_delta", &PyTuple_Type, &constants,
                          &PyTuple_Type, &types, &wire, &wire_scalar)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(constants) != 6 || PyTuple_GET_SIZE(types) != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "configure_delta((MISSING, DELETE_ENTRY, NOT_A_FIELD, REPLACE, LIST, "
                        "MAP), (TrackedMap, TrackedList, _ListDirty, Float32, Quantized, "
                        "Float32Value), _wire, _wire_scalar)");
        return NULL;
    }
#define TAKE(var, tuple, index) Py_XSETREF(var, Py_NewRef(PyTuple_GET_ITEM(tuple, index)))
    TAKE(c_missing, constants, 0);
    TAKE(c_delete_entry, constants, 1);
    TAKE(c_not_a_field, constants, 2);
    TAKE(c_replace, constants, 3);
    TAKE(c_list, constants, 4);
    TAKE(c_map, constants, 5);
    TAKE(t_map, types, 0);
    TAKE(t_list, types, 1);
    TAKE(t_list_dirty, types, 2);
    TAKE(t_float32, types, 3);
    TAKE(t_quantized, types, 4);
    TAKE(t_float32_value, types, 5);
#undef TAKE
    Py_XSETREF(py_wire, Py_NewRef(wire));
    Py_XSETREF(py_wire_scalar, Py_NewRef(wire_scalar));
    Py_RETURN_NONE;
}

int
tr_delta_init(void)
{
#define INTERN(var, text)                                                                   \
    if ((var = PyUnicode_InternFromString(text)) == NULL) {                                 \
        return -1;                                                                          \
    }
    INTERN(s_relative_steps, "relative_steps");
    INTERN(s_wildcard_relative_step, "wildcard_relative_step");
    INTERN(s_precisions, "precisions");
    INTERN(s_wildcard_precision, "wildcard_precision");
    INTERN(s_children, "children");
    INTERN(s_wildcard, "wildcard");
    INTERN(s_step, "step");
    INTERN(s_relative, "relative");
    INTERN(s_items, "items");
    INTERN(s_tail, "tail");
#undef INTERN
    return 0;
}
