# Shared C types of the engine: one place, so every extension and every numpy
# record agrees on widths (numpy: int64 <-> price_t/qty_t/oid_t, int32 <-> owner_t/idx_t).
from libc.stdint cimport int8_t, uint8_t, int32_t, int64_t, uint64_t

ctypedef int64_t price_t    # price in integer ticks
ctypedef int64_t qty_t      # quantity in integer lots
ctypedef int64_t oid_t      # caller's order id
ctypedef int32_t owner_t    # account index, -1 for none
ctypedef int32_t idx_t      # index into an engine-owned array, -1 for none
ctypedef int8_t side_t      # BUY = 1, SELL = -1
