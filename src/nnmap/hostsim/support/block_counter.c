/* nnmap host simulation: unicorn hooks that count executed basic blocks and simulate a data cache,
 * in C so that a whole network (tens of millions of instructions) runs in seconds.
 *
 * Blocks are counted as edges (owner, previous block, block): the previous block tells whether a
 * conditional branch ending it was taken, and the owner is the function the cycles belong to.
 * Owners are address ranges given by the caller (the artifact's own functions); a block outside
 * every range (a compiler runtime helper, a static function) keeps the current owner, so a helper
 * is charged to the function that called it. An owner marked excluded (an accelerator emulator's
 * entry point) keeps everything it runs, whatever it calls, until a block of the function that
 * called it runs again.
 *
 * The optional data cache is set-associative with LRU replacement and write-allocate; every data
 * access of the program outside excluded code (loads and stores) looks it up by the line of its
 * first byte, and each miss is counted for the current owner. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint64_t previous;
  uint64_t address;
  uint32_t size;
  uint32_t owner;
  uint64_t count;
} nnmap_edge;

typedef int (*nnmap_stop_function)(void *engine);

typedef struct {
  nnmap_edge *edges;
  uint64_t capacity;
  uint64_t used;
  int overflowed;
  uint64_t *owner_starts;
  uint64_t *owner_ends;
  uint8_t *owner_excluded;
  uint32_t owner_count;
  uint64_t previous;
  uint32_t owner;
  uint32_t excluded_owner;
  uint32_t return_owner;
  uint32_t line_bytes;
  uint32_t sets;
  uint32_t ways;
  uint64_t *line_tags;
  uint64_t *line_stamps;
  uint64_t stamp;
  uint64_t *accesses;
  uint64_t *misses;
  uint64_t blocks;
  uint64_t block_limit;
  nnmap_stop_function stop;
} nnmap_counter;

void nnmap_counter_free(nnmap_counter *counter) {
  if (counter == NULL) {
    return;
  }
  free(counter->edges);
  free(counter->owner_starts);
  free(counter->owner_ends);
  free(counter->owner_excluded);
  free(counter->line_tags);
  free(counter->line_stamps);
  free(counter->accesses);
  free(counter->misses);
  free(counter);
}

/* owners: sorted, non-overlapping [start, end) ranges, excluded[i] != 0 for excluded ones;
 * capacity: a power of two. A cache with zero sets is no cache. NULL when memory runs out. */
nnmap_counter *nnmap_counter_new(uint64_t capacity, const uint64_t *starts, const uint64_t *ends,
                                 const uint8_t *excluded, uint32_t owner_count,
                                 uint32_t line_bytes, uint32_t sets, uint32_t ways) {
  nnmap_counter *counter = calloc(1, sizeof(nnmap_counter));
  if (counter == NULL) {
    return NULL;
  }
  counter->capacity = capacity;
  counter->owner_count = owner_count;
  counter->line_bytes = line_bytes;
  counter->sets = sets;
  counter->ways = ways;
  counter->edges = calloc(capacity, sizeof(nnmap_edge));
  counter->owner_starts = calloc(owner_count + 1u, sizeof(uint64_t));
  counter->owner_ends = calloc(owner_count + 1u, sizeof(uint64_t));
  counter->owner_excluded = calloc(owner_count + 2u, sizeof(uint8_t));
  counter->accesses = calloc(owner_count + 1u, sizeof(uint64_t));
  counter->misses = calloc(owner_count + 1u, sizeof(uint64_t));
  counter->line_tags = calloc((uint64_t)sets * ways + 1u, sizeof(uint64_t));
  counter->line_stamps = calloc((uint64_t)sets * ways + 1u, sizeof(uint64_t));
  if (counter->edges == NULL || counter->owner_starts == NULL || counter->owner_ends == NULL ||
      counter->owner_excluded == NULL ||
      counter->accesses == NULL || counter->misses == NULL || counter->line_tags == NULL ||
      counter->line_stamps == NULL) {
    nnmap_counter_free(counter);
    return NULL;
  }
  for (uint32_t index = 0; index < owner_count; ++index) {
    counter->owner_starts[index] = starts[index];
    counter->owner_ends[index] = ends[index];
    counter->owner_excluded[index + 1u] = excluded[index] != 0;
  }
  return counter;
}

/* The 1-based index of the owner range holding address, or 0. */
static uint32_t owner_of(const nnmap_counter *counter, uint64_t address) {
  uint32_t low = 0;
  uint32_t high = counter->owner_count;
  while (low < high) {
    uint32_t middle = low + (high - low) / 2u;
    if (address < counter->owner_starts[middle]) {
      high = middle;
    } else if (address >= counter->owner_ends[middle]) {
      low = middle + 1u;
    } else {
      return middle + 1u;
    }
  }
  return 0;
}

static uint64_t edge_slot(uint64_t previous, uint64_t address, uint32_t owner) {
  uint64_t key = previous * 0x9E3779B97F4A7C15ull ^ address * 0xC2B2AE3D27D4EB4Full ^ owner;
  return key ^ (key >> 29);
}

/* A call running more than block_limit blocks is stopped with stop (unicorn's uc_emu_stop). */
void nnmap_counter_limit(nnmap_counter *counter, uint64_t block_limit, void *stop) {
  counter->block_limit = block_limit;
  counter->stop = (nnmap_stop_function)stop;
}

void nnmap_counter_block(void *engine, uint64_t address, uint32_t size, void *user_data) {
  nnmap_counter *counter = user_data;
  counter->blocks += 1;
  if (counter->blocks == counter->block_limit && counter->stop != NULL) {
    counter->stop(engine);
  }
  uint32_t owner = owner_of(counter, address);
  if (counter->excluded_owner != 0) {
    if (owner != 0 && owner == counter->return_owner) {
      counter->excluded_owner = 0;
      counter->owner = owner;
    }
  } else if (owner != 0) {
    if (counter->owner_excluded[owner]) {
      counter->return_owner = counter->owner;
      counter->excluded_owner = owner;
    }
    counter->owner = owner;
  }
  uint64_t mask = counter->capacity - 1u;
  uint64_t slot = edge_slot(counter->previous, address, counter->owner) & mask;
  for (uint64_t probe = 0; probe < counter->capacity; ++probe) {
    nnmap_edge *edge = &counter->edges[(slot + probe) & mask];
    if (edge->count == 0) {
      edge->previous = counter->previous;
      edge->address = address;
      edge->size = size;
      edge->owner = counter->owner;
      edge->count = 1;
      counter->used += 1;
      break;
    }
    if (edge->previous == counter->previous && edge->address == address &&
        edge->size == size && edge->owner == counter->owner) {
      edge->count += 1;
      break;
    }
  }
  if (counter->used * 4u > counter->capacity * 3u) {
    counter->overflowed = 1;
  }
  counter->previous = address;
}

void nnmap_counter_memory(void *engine, int type, uint64_t address, int size, int64_t value,
                          void *user_data) {
  (void)engine;
  (void)type;
  (void)size;
  (void)value;
  nnmap_counter *counter = user_data;
  if (counter->sets == 0 || counter->excluded_owner != 0) {
    return;
  }
  uint64_t line = address / counter->line_bytes;
  uint64_t *tags = &counter->line_tags[(line % counter->sets) * counter->ways];
  uint64_t *stamps = &counter->line_stamps[(line % counter->sets) * counter->ways];
  uint64_t tag = line / counter->sets + 1u; /* 0 marks an empty way */
  counter->stamp += 1;
  counter->accesses[counter->owner] += 1;
  uint32_t victim = 0;
  for (uint32_t way = 0; way < counter->ways; ++way) {
    if (tags[way] == tag) {
      stamps[way] = counter->stamp;
      return;
    }
    if (stamps[way] < stamps[victim]) {
      victim = way;
    }
  }
  counter->misses[counter->owner] += 1;
  tags[victim] = tag;
  stamps[victim] = counter->stamp;
}

/* Starts a new call: the next block is the entry, reached from no block, owned by no one yet. */
static void restart_call(nnmap_counter *counter) {
  counter->previous = 0;
  counter->owner = 0;
  counter->excluded_owner = 0;
  counter->return_owner = 0;
}

/* Forgets the counted edges, accesses and misses of earlier calls; the cache keeps its lines. */
void nnmap_counter_clear(nnmap_counter *counter) {
  memset(counter->edges, 0, counter->capacity * sizeof(nnmap_edge));
  memset(counter->accesses, 0, (counter->owner_count + 1u) * sizeof(uint64_t));
  memset(counter->misses, 0, (counter->owner_count + 1u) * sizeof(uint64_t));
  counter->used = 0;
  counter->overflowed = 0;
  counter->blocks = 0;
  restart_call(counter);
}

int nnmap_counter_overflowed(const nnmap_counter *counter) { return counter->overflowed; }

uint64_t nnmap_counter_edge_count(const nnmap_counter *counter) { return counter->used; }

/* Copies the counted edges into the caller's arrays (nnmap_counter_edge_count entries each). */
void nnmap_counter_edges(const nnmap_counter *counter, uint64_t *previous, uint64_t *address,
                         uint32_t *size, uint32_t *owner, uint64_t *count) {
  uint64_t out = 0;
  for (uint64_t index = 0; index < counter->capacity; ++index) {
    const nnmap_edge *edge = &counter->edges[index];
    if (edge->count == 0) {
      continue;
    }
    previous[out] = edge->previous;
    address[out] = edge->address;
    size[out] = edge->size;
    owner[out] = edge->owner;
    count[out] = edge->count;
    out += 1;
  }
}

/* Copies the data accesses and cache misses per owner (owner_count + 1 entries, index 0 = none). */
void nnmap_counter_cache(const nnmap_counter *counter, uint64_t *accesses, uint64_t *misses) {
  for (uint32_t index = 0; index <= counter->owner_count; ++index) {
    accesses[index] = counter->accesses[index];
    misses[index] = counter->misses[index];
  }
}
