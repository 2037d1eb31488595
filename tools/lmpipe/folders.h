/*
 * Folder creation for lmpipe: run folders, report folders and the parents of
 * captured standard output files.
 */
#ifndef LMPIPE_TOOLS_FOLDERS_H
#define LMPIPE_TOOLS_FOLDERS_H

/* Creates `path` and its missing parents, like mkdir -p. A folder that exists
 * already is no error. Returns 0, or -1 after logging the folder that failed. */
int folders_create(const char *path);

/* Creates the folder that contains `file`, with its parents. Returns 0 or -1
 * after logging. */
int folders_create_parent(const char *file);

#endif
