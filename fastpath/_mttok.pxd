cdef unsigned char _CLASS[128]

cdef void _init_classes() noexcept
cdef object _charset_error(str text, Py_ssize_t at, Py_ssize_t offset, int line, str tag)
cdef Py_ssize_t _first_non_ascii(str text)
cdef list _split_subblocks_slow(str content, Py_ssize_t base)
cdef list _split_fields_slow(str content, Py_ssize_t base)
cdef Py_ssize_t _tag_end(const unsigned char* p, Py_ssize_t i, Py_ssize_t j) noexcept

cpdef list split_blocks(str text, object max_size=*)
cpdef list split_subblocks(str content, Py_ssize_t base=*)
cpdef list split_fields(str content, Py_ssize_t base=*)
