#!/bin/bash
# Crash consistency, the CI-sized run of tests/soak/crash-consistency.sh:
# kill -9 during pulls and reads, restart, no wrong byte ever served.
COUNT=${CRASH_KILLS:-20} exec bash "$(dirname "$0")/../soak/crash-consistency.sh"
