/* A flat-array limit order book in plain C: the yardstick `make bench` measures firesale's
 * batch path against, in the same run (bench/flat_book.py builds and wraps it).
 *
 * The targets were set against "a flat-array C engine": this is one, written the
 * plain way such engines are.  Order ids index the order array directly (ids must be dense
 * and small: the wrapper sizes the array to the largest id), every tick of the band has a
 * queue head and tail, and the next best price is found by stepping tick by tick.  Cancels
 * unlink at once.  No prefetching, no id index, no bitmaps: what a C engine gets for free
 * from its data layout, and nothing more.
 *
 * It runs LIMIT, MARKET and CANCEL with firesale's rules (engine/reference.py): for every
 * stream the wrapper accepts, the same fills in the same order and the same per-message
 * results, reject codes included.  The wrapper refuses other kinds, flags, ids outside the
 * array and streams whose lots firesale could refuse as too large, so the two never differ
 * silently; tests/test_flat_book.py checks the agreement.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Layouts of engine.ORDER_DTYPE, FILL_DTYPE and RESULT_DTYPE (the wrapper checks them
 * against flat_layout). */
typedef struct { int64_t id, price, qty; int32_t owner; int8_t side, kind; uint8_t flags; } Order;
typedef struct {
    int64_t taker_id, maker_id, price, qty;
    int32_t taker_owner, maker_owner;
    int8_t taker_side, taker_kind;
} Fill;
typedef struct { int64_t filled, remaining, cancelled; int8_t reject; } Result;

enum { LIMIT = 1, MARKET = 2, CANCEL = 5 };
enum { FLAT_BAD_ID = -2, FLAT_NO_MEMORY = -1 };     /* what flat_submit returns when it stops */
enum { OK = 0, BAD_SIDE = 1, BAD_KIND = 2, BAD_QTY = 3, PRICE_OUT_OF_BAND = 4,
       DUPLICATE_ID = 5, UNKNOWN_ID = 6, BAD_FLAGS = 7 };

typedef struct { int64_t qty; int32_t owner, level, next, prev; } Node;   /* qty 0: not resting */
typedef struct { int32_t head, tail; } Level;

typedef struct {
    int64_t lo, hi;
    int32_t levels_count, best_bid, best_ask;   /* best_bid -1, best_ask levels_count: empty */
    int64_t ids;                                /* ids 0 .. ids-1 fit */
    Level* levels;
    Node* nodes;
    Fill* fills;
    int64_t fill_count, fill_capacity, resting;
} FlatBook;

void flat_free(FlatBook* b) {
    if (b == NULL)
        return;
    free(b->levels);
    free(b->nodes);
    free(b->fills);
    free(b);
}

/* A book for prices lo..hi and ids 0..ids-1, with room for `fills` fills before it grows
 * (all touched now, so that the first batch does not pay the kernel for fresh pages). */
FlatBook* flat_new(int64_t lo, int64_t hi, int64_t ids, int64_t fills) {
    FlatBook* b = calloc(1, sizeof(FlatBook));
    if (b == NULL)
        return NULL;
    b->lo = lo;
    b->hi = hi;
    b->levels_count = (int32_t)(hi - lo + 1);
    b->best_bid = -1;
    b->best_ask = b->levels_count;
    b->ids = ids;
    b->levels = malloc(sizeof(Level) * (size_t)b->levels_count);
    b->nodes = malloc(sizeof(Node) * (size_t)ids);
    b->fill_capacity = fills > 16 ? fills : 16;
    b->fills = malloc(sizeof(Fill) * (size_t)b->fill_capacity);
    if (b->levels == NULL || b->nodes == NULL || b->fills == NULL) {
        flat_free(b);
        return NULL;
    }
    /* Every page written now, so that none is first touched in the timed run, as calloc's
     * would be: the nodes in a loop (their links start at -1), the fills with 0xff (the
     * compiler may turn malloc and a memset to zero into a calloc). */
    for (int64_t i = 0; i < ids; i++) {
        b->nodes[i].qty = 0;
        b->nodes[i].owner = b->nodes[i].level = b->nodes[i].next = b->nodes[i].prev = -1;
    }
    memset(b->fills, 0xff, sizeof(Fill) * (size_t)b->fill_capacity);
    for (int32_t i = 0; i < b->levels_count; i++)
        b->levels[i].head = b->levels[i].tail = -1;
    return b;
}

static int push_fill(FlatBook* b, int64_t taker_id, int64_t maker_id, int64_t price, int64_t qty,
                     int32_t taker_owner, int32_t maker_owner, int8_t side, int8_t kind) {
    if (b->fill_count == b->fill_capacity) {
        Fill* grown = realloc(b->fills, sizeof(Fill) * (size_t)b->fill_capacity * 2);
        if (grown == NULL)
            return -1;
        b->fills = grown;
        b->fill_capacity *= 2;
    }
    Fill* f = &b->fills[b->fill_count++];
    f->taker_id = taker_id;
    f->maker_id = maker_id;
    f->price = price;
    f->qty = qty;
    f->taker_owner = taker_owner;
    f->maker_owner = maker_owner;
    f->taker_side = side;
    f->taker_kind = kind;
    return 0;
}

/* The best bid at or below `level`, stepping tick by tick (-1: none). */
static int32_t bid_from(const FlatBook* b, int32_t level) {
    while (level >= 0 && b->levels[level].head < 0)
        level--;
    return level;
}

/* The best ask at or above `level` (levels_count: none). */
static int32_t ask_from(const FlatBook* b, int32_t level) {
    while (level < b->levels_count && b->levels[level].head < 0)
        level++;
    return level;
}

/* Trade `*qty` lots of a taker on `side` against the other side up to level `limit`. */
static int match(FlatBook* b, int8_t side, int32_t limit, int64_t* qty, int64_t taker_id,
                 int32_t taker_owner, int8_t kind) {
    int64_t wanted = *qty;
    while (wanted > 0) {
        int32_t level = side > 0 ? b->best_ask : b->best_bid;
        if (side > 0 ? level > limit : level < limit)
            break;
        Level* lv = &b->levels[level];
        while (wanted > 0 && lv->head >= 0) {
            int32_t maker = lv->head;
            Node* n = &b->nodes[maker];
            int64_t traded = n->qty < wanted ? n->qty : wanted;
            if (push_fill(b, taker_id, maker, b->lo + level, traded, taker_owner, n->owner, side, kind))
                return -1;
            wanted -= traded;
            n->qty -= traded;
            if (n->qty == 0) {
                lv->head = n->next;
                if (n->next >= 0)
                    b->nodes[n->next].prev = -1;
                else
                    lv->tail = -1;
                b->resting--;
            }
        }
        if (lv->head < 0) {     /* the level is empty: step to the next one that is not */
            if (side > 0)
                b->best_ask = ask_from(b, level);
            else
                b->best_bid = bid_from(b, level);
        }
    }
    *qty = wanted;
    return 0;
}

static void rest(FlatBook* b, int64_t id, int8_t side, int32_t level, int64_t qty, int32_t owner) {
    Node* n = &b->nodes[id];
    Level* lv = &b->levels[level];
    n->qty = qty;
    n->owner = owner;
    n->level = level;
    n->next = -1;
    n->prev = lv->tail;
    if (lv->tail >= 0)
        b->nodes[lv->tail].next = (int32_t)id;
    else
        lv->head = (int32_t)id;
    lv->tail = (int32_t)id;
    if (side > 0) {
        if (level > b->best_bid)
            b->best_bid = level;
    } else if (level < b->best_ask) {
        b->best_ask = level;
    }
    b->resting++;
}

static int64_t cancel(FlatBook* b, int64_t id) {
    Node* n = &b->nodes[id];
    Level* lv = &b->levels[n->level];
    int32_t level = n->level;
    int64_t qty = n->qty;
    if (n->prev >= 0)
        b->nodes[n->prev].next = n->next;
    else
        lv->head = n->next;
    if (n->next >= 0)
        b->nodes[n->next].prev = n->prev;
    else
        lv->tail = n->prev;
    n->qty = 0;
    b->resting--;
    if (lv->head < 0) {
        if (level == b->best_bid)
            b->best_bid = bid_from(b, level);
        else if (level == b->best_ask)
            b->best_ask = ask_from(b, level);
    }
    return qty;
}

/* The reject code of a message, in engine/reference.py's order (0 when accepted).  A new
 * order's id must index the array: the wrapper refuses streams with other ids, and
 * flat_submit stops at one rather than write outside it. */
static int8_t validate(const FlatBook* b, const Order* o) {
    if (o->kind != LIMIT && o->kind != MARKET && o->kind != CANCEL)
        return BAD_KIND;
    if (o->flags)
        return BAD_FLAGS;
    int live = o->id >= 0 && o->id < b->ids && b->nodes[o->id].qty > 0;
    if (o->kind == CANCEL)
        return live ? OK : UNKNOWN_ID;
    if (o->side != 1 && o->side != -1)
        return BAD_SIDE;
    if (o->qty <= 0)
        return BAD_QTY;
    if (o->kind == LIMIT && (o->side > 0 ? o->price < b->lo : o->price > b->hi))
        return PRICE_OUT_OF_BAND;
    if (live)
        return DUPLICATE_ID;
    return OK;
}

/* Run `n` messages; write a result each.  Returns 0; or, with the batch stopped there,
 * FLAT_BAD_ID at a new order whose id is outside the array (nothing of that message done)
 * or FLAT_NO_MEMORY when the fill buffer could not grow (the message half done: the book
 * is then of no further use). */
int flat_submit(FlatBook* b, const Order* orders, int64_t n, Result* out) {
    for (int64_t i = 0; i < n; i++) {
        const Order* o = &orders[i];
        Result* r = &out[i];
        if (o->kind != CANCEL && (o->id < 0 || o->id >= b->ids))
            return FLAT_BAD_ID;
        r->filled = r->remaining = r->cancelled = 0;
        r->reject = validate(b, o);
        if (r->reject)
            continue;
        if (o->kind == CANCEL) {
            r->cancelled = cancel(b, o->id);
            continue;
        }
        int32_t limit;
        int may_rest = 0;
        if (o->kind == MARKET) {
            limit = o->side > 0 ? b->levels_count - 1 : 0;
        } else {
            int64_t price = o->price < b->lo ? b->lo : (o->price > b->hi ? b->hi : o->price);
            limit = (int32_t)(price - b->lo);
            may_rest = price == o->price;
        }
        int64_t left = o->qty;
        if (match(b, o->side, limit, &left, o->id, o->owner, o->kind))
            return FLAT_NO_MEMORY;
        r->filled = o->qty - left;
        if (left == 0)
            continue;
        if (may_rest) {
            rest(b, o->id, o->side, limit, left, o->owner);
            r->remaining = left;
        } else {
            r->cancelled = left;
        }
    }
    return 0;
}

/* The fills since the last call: copied to `out` (room for flat_fill_count), then dropped. */
int64_t flat_fill_count(const FlatBook* b) { return b->fill_count; }

void flat_take_fills(FlatBook* b, Fill* out) {
    memcpy(out, b->fills, sizeof(Fill) * (size_t)b->fill_count);
    b->fill_count = 0;
}

int64_t flat_resting(const FlatBook* b) { return b->resting; }
int64_t flat_best_bid(const FlatBook* b) { return b->best_bid < 0 ? INT64_MIN : b->lo + b->best_bid; }
int64_t flat_best_ask(const FlatBook* b) {
    return b->best_ask >= b->levels_count ? INT64_MIN : b->lo + b->best_ask;
}

/* The records' sizes and field offsets, for the wrapper to check against the numpy dtypes:
 * Order (7 fields), Fill (8), Result (4), each size first. */
void flat_layout(int64_t* out) {
    int64_t layout[] = {
        sizeof(Order), offsetof(Order, id), offsetof(Order, price), offsetof(Order, qty),
        offsetof(Order, owner), offsetof(Order, side), offsetof(Order, kind), offsetof(Order, flags),
        sizeof(Fill), offsetof(Fill, taker_id), offsetof(Fill, maker_id), offsetof(Fill, price),
        offsetof(Fill, qty), offsetof(Fill, taker_owner), offsetof(Fill, maker_owner),
        offsetof(Fill, taker_side), offsetof(Fill, taker_kind),
        sizeof(Result), offsetof(Result, filled), offsetof(Result, remaining),
        offsetof(Result, cancelled), offsetof(Result, reject),
    };
    memcpy(out, layout, sizeof(layout));
}
