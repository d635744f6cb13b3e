/*
 * token_tool.h: the hsm-tool commands of the token key mode, re-wrapping,
 * sealed stamps, the host key mode and their bench (token_tool.c).
 */
#ifndef TESTS_HSM_TOKEN_TOOL_H
#define TESTS_HSM_TOKEN_TOOL_H

#include "hsm/hsm.h"
#include "station/config.h"

/* token_tool(argc, argv, cfg, h, ca): run argv[0] if it is one of these
 * commands: 0 ok, 1 failed, -1 not one of them. */
int token_tool(int argc, char **argv, struct station_config *cfg,
    struct hsm *h, struct hsm_ca *ca);

#endif
