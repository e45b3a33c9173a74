/* tr_slot_get: a __slots__ attribute read at its offset. Shared by protocol._native and
 * game_server._native (each extension compiles its own copy: the function is static). */
#ifndef TICKROOM_NATIVE_SLOT_H
#define TICKROOM_NATIVE_SLOT_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* Where one __slots__ attribute of one class lives: a cache for tr_slot_get (zero it). */
typedef struct {
    PyTypeObject *type;
    unsigned int version;
    Py_ssize_t offset;
} tr_slot;

/* Whether `descr` (found on `type`, borrowed) is a slot of one of type's own bases that
 * getattr (and, with `writing`, setattr) would read at its offset: a T_OBJECT_EX member
 * descriptor, not read-only when writing, whose class `type` derives from (a descriptor copied
 * onto an unrelated class must raise as Python does, not read another layout). */
static inline int
tr_slot_member(PyTypeObject *type, PyObject *descr, int writing)
{
    PyMemberDef *member;
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
        !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG) ||
        !PyType_IsSubtype(type, PyDescr_TYPE(descr))) {
        return 0;
    }
    member = ((PyMemberDescrObject *)descr)->d_member;
    return member->type == T_OBJECT_EX && !(writing && (member->flags & READONLY)) &&
           !(member->flags & PY_AUDIT_READ);
}

/* Remember `descr`'s offset for `type`: read it before the swap, which may free the class
 * cached before (and run Python code). */
static inline void
tr_slot_cache(tr_slot *cache, PyTypeObject *type, PyObject *descr)
{
    Py_ssize_t offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    unsigned int version = type->tp_version_tag;
    Py_XSETREF(cache->type, (PyTypeObject *)Py_NewRef(type));
    cache->version = version;
    cache->offset = offset;
}

/* getattr(obj, name), a new reference. When `name` is a __slots__ member of obj's class (and
 * the class neither overrides attribute lookup nor changed since), the value is read straight
 * from the slot: the class and offset are kept in *cache. Anything else is a getattr. */
static inline PyObject *
tr_slot_get(PyObject *obj, PyObject *name, tr_slot *cache)
{
    PyTypeObject *type = Py_TYPE(obj);
    PyObject *value;
    if (type != cache->type || type->tp_version_tag != cache->version ||
        !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
        PyObject *descr;
        if (type->tp_getattro != PyObject_GenericGetAttr) {
            return PyObject_GetAttr(obj, name);
        }
        descr = _PyType_Lookup(type, name); /* borrowed; tags the class with a version */
        if (!tr_slot_member(type, descr, 0)) {
            return PyObject_GetAttr(obj, name);
        }
        tr_slot_cache(cache, type, descr);
    }
    value = *(PyObject **)((char *)obj + cache->offset);
    return value != NULL ? Py_NewRef(value) : PyObject_GetAttr(obj, name); /* unset: raises */
}

/* setattr(obj, name, value): 0, or -1 with an exception set. Written straight into the slot
 * when `name` is a writable __slots__ member of obj's class (cached as for tr_slot_get). */
static inline int
tr_slot_set(PyObject *obj, PyObject *name, PyObject *value, tr_slot *cache)
{
    PyTypeObject *type = Py_TYPE(obj);
    PyObject **slot;
    if (type != cache->type || type->tp_version_tag != cache->version ||
        !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
        PyObject *descr;
        if (type->tp_setattro != PyObject_GenericSetAttr) {
            return PyObject_SetAttr(obj, name, value);
        }
        descr = _PyType_Lookup(type, name);
        if (!tr_slot_member(type, descr, 1)) {
            return PyObject_SetAttr(obj, name, value);
        }
        tr_slot_cache(cache, type, descr);
    }
    slot = (PyObject **)((char *)obj + cache->offset);
    Py_XSETREF(*slot, Py_NewRef(value));
    return 0;
}

#endif
