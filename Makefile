# smart_dairy_perf: PGXS build.  Orchestration (deps, temp clusters, tests)
# lives in test/*.sh; this file only builds and installs.

EXTENSION    = smart_dairy_perf
MODULE_big   = smart_dairy_perf
OBJS         = src/smart_dairy_perf.o \
               src/histogram.o \
               src/normalize.o \
               src/profiler_store.o \
               src/stats_file.o \
               src/profiler_hooks.o \
               src/slow_queries.o \
               src/profiler_sql.o \
               src/nplus1.o \
               src/nplus1_store.o \
               src/spi_util.o \
               src/run_as_owner.o \
               src/maintenance_lock.o \
               src/maintenance_log.o \
               src/partition_bounds.o \
               src/partition_manager.o \
               src/partition_convert.o \
               src/matview_manager.o \
               src/maintenance.o \
               src/maintenance_worker.o \
               src/hypothetical_index.o \
               src/index_advisor.o \
               src/advisor_candidates.o \
               src/advisor_whatif.o \
               src/advisor_choice.o \
               src/predicate_sampler.o \
               src/predicate_store.o
DATA         = smart_dairy_perf--1.0.sql smart_dairy_perf--1.0--1.1.sql \
               smart_dairy_perf--1.1--1.2.sql smart_dairy_perf--1.2--1.3.sql
PGFILEDESC   = "smart_dairy_perf - query profiler and maintenance for PostgreSQL"

REGRESS      = profiler normalize privileges partitions matviews index_health predicates health snapshots report
REGRESS_OPTS = --inputdir=. --load-extension=smart_dairy_perf

PG_CFLAGS    = -Wextra -Wno-unused-parameter -Wno-sign-compare \
               -Wno-missing-field-initializers

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
