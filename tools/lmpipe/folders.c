/*
 * Folder creation for lmpipe (see folders.h).
 */
#include "folders.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

int folders_create(const char *path)
{
    char buffer[4096];
    snprintf(buffer, sizeof buffer, "%s", path);
    for (char *slash = buffer + 1; *slash; slash++) {
        if (*slash != '/')
            continue;
        *slash = '\0';
        if (mkdir(buffer, 0777) != 0 && errno != EEXIST) {
            log_error("failed to create folder %s: %s", buffer, strerror(errno));
            return -1;
        }
        *slash = '/';
    }
    if (mkdir(buffer, 0777) != 0 && errno != EEXIST) {
        log_error("failed to create folder %s: %s", buffer, strerror(errno));
        return -1;
    }
    return 0;
}

int folders_create_parent(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash || slash == file)
        return 0;
    char parent[4096];
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - file), file);
    return folders_create(parent);
}
