/*
 * Union-find with path halving. Linking the larger root under the smaller
 * keeps the minimum as the root; path halving alone keeps the trees shallow
 * enough in practice (amortized O(log n) per operation in the worst case).
 */
#include "union_find.h"

#include <stdlib.h>

int union_find_init(union_find_t *sets, size_t count)
{
    sets->count = 0;
    sets->capacity = count > 16 ? count : 16;
    sets->parent = malloc(sets->capacity * sizeof *sets->parent);
    if (!sets->parent || count > UINT32_MAX)
        return -1;
    for (size_t i = 0; i < count; i++)
        sets->parent[i] = (uint32_t)i;
    sets->count = count;
    return 0;
}

int64_t union_find_add(union_find_t *sets)
{
    if (sets->count >= UINT32_MAX)
        return -1;
    if (sets->count == sets->capacity) {
        size_t capacity = sets->capacity * 2;
        uint32_t *parent = realloc(sets->parent, capacity * sizeof *parent);
        if (!parent)
            return -1;
        sets->parent = parent;
        sets->capacity = capacity;
    }
    sets->parent[sets->count] = (uint32_t)sets->count;
    return (int64_t)sets->count++;
}

void union_find_free(union_find_t *sets)
{
    free(sets->parent);
    sets->parent = NULL;
    sets->count = sets->capacity = 0;
}

uint32_t union_find_root(union_find_t *sets, uint32_t element)
{
    uint32_t *parent = sets->parent;
    while (parent[element] != element) {
        parent[element] = parent[parent[element]];
        element = parent[element];
    }
    return element;
}

uint32_t union_find_union(union_find_t *sets, uint32_t a, uint32_t b)
{
    uint32_t root_a = union_find_root(sets, a);
    uint32_t root_b = union_find_root(sets, b);
    if (root_a == root_b)
        return root_a;
    if (root_a < root_b) {
        sets->parent[root_b] = root_a;
        return root_a;
    }
    sets->parent[root_a] = root_b;
    return root_b;
}
