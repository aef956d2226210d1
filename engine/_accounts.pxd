# The contract of the account ledger: rule records shared with numpy, the account
# states, and the struct-of-arrays Accounts class that the cascade cimports.
from libc.stdint cimport int8_t, uint8_t, int16_t, int32_t, int64_t
from engine._types cimport price_t, qty_t

# Account kinds (how equity and the line are computed).
cdef enum:
    KIND_MARGIN = 1         # collateral ratio (cash + shares x p) / debt against a force line
    KIND_PERP = 2           # equity (cash + shares x p) against maintenance margin x notional
    KIND_SWAP = 3           # fund value (cash + shares x p - debt) against a stop value

# Liquidation policies and order styles.
cdef enum:
    POLICY_ALL = 0          # sell the whole position
    POLICY_RESTORE = 1      # sell just enough to be back at the restore line (at the mark)
    POLICY_FRACTION = 2     # sell a set fraction of the position (swap stop-outs)
    STYLE_MARKET = 0        # market sell; what the band stops is cancelled
    STYLE_IOC = 1           # immediate-or-cancel at a limit (mark - offset, or bankruptcy price)
    STYLE_FLOOR = 2         # limit at the session's floor that queues there (QUEUE_AT_LIMIT)
    BASIS_RATIO = 0         # margin lines on the collateral ratio (cash + shares x p) / debt
    BASIS_EQUITY = 1        # margin lines on equity / market value (FINRA 4210, Reg T)

# Account states: where the account is in the cascade.
cdef enum:
    ST_STATIC = 0           # idle, still in the sorted static trigger index
    ST_HEAP = 1             # idle, in the heap of re-indexed accounts
    ST_LIQUIDATING = 2      # one forced order live (pending, or resting in the book)
    ST_BLOCKED = 3          # its last forced order was cut by the band or its limit: waits for the next session
    ST_CLOSED = 4           # no position left (settled, bad debt recorded)
    ST_IDLE_NONE = 5        # idle with nothing to sell, or no debt: never crossed

cdef struct Rule:           # one liquidation rule; mirrors RULE_DTYPE (40 bytes)
    int64_t ioc_offset      # STYLE_IOC on margin/swap: ticks below the mark of the limit
    int64_t chunk           # largest forced order in lots (0: no chunking)
    int32_t restore_bps     # POLICY_RESTORE: line to get back to, basis points
    int32_t call_bps        # margin call line, basis points (0: no calls)
    int32_t call_grace      # sessions a called account has to top up before it is forced
    int32_t fraction_bps    # POLICY_FRACTION: part of the position to close, basis points
    int32_t cooldown        # events between two chunks of one account
    int8_t kind             # KIND_*
    int8_t policy           # POLICY_*
    int8_t style            # STYLE_*
    int8_t basis            # margin: BASIS_RATIO or BASIS_EQUITY (lines are then fractions)


cdef class Accounts:
    cdef readonly int64_t n             # number of accounts
    # Ledger, one entry per account (numpy-owned, never reallocated).
    cdef int64_t* cash                  # cash in tick-lots (perp: collateral - shares x entry)
    cdef int64_t* shares                # long position in lots
    cdef int64_t* debt                  # margin loan or swap financing, tick-lots (perp: 0)
    cdef int64_t* floor_value           # swap: stop value of the fund, 1/10000 tick-lots (else 0)
    cdef int64_t* trigger               # highest tick at which the account is crossed
    cdef int64_t* bad_debt              # shortfall left when the position was closed
    cdef int32_t* line_bps              # margin/swap: force line on debt (margin on the equity
                                        # basis, and perp: maintenance fraction of market value)
    cdef int32_t* called                # session of the pending margin call, -1 none
    cdef uint8_t* rule                  # index into rules
    cdef uint8_t* state                 # ST_*
    cdef Rule* rules
    cdef readonly int32_t rule_count
    cdef object _arrays                 # the numpy arrays that own the columns above
    cdef object _rules_array

    cdef void _reindex_one(self, int64_t a) noexcept nogil
    cdef int64_t _trigger(self, int64_t a) noexcept nogil
    cdef int64_t _trigger_at(self, int64_t a, int32_t line) noexcept nogil
    cdef bint _crossed_at_half(self, int64_t a, price_t mark) noexcept nogil
    cdef qty_t _liquidation_qty(self, int64_t a, price_t mark) noexcept nogil
    cdef price_t _bankruptcy(self, int64_t a) noexcept nogil
    cdef void _apply_sale(self, int64_t a, price_t price, qty_t qty) noexcept nogil
    cdef void _settle(self, int64_t a) noexcept nogil
