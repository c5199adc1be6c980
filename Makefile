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
               src/query_samples.o \
               src/nplus1.o \
               src/nplus1_store.o \
               src/nplus1_noise.o \
               src/own_code.o \
               src/spi_util.o \
               src/run_as_owner.o \
               src/maintenance_lock.o \
               src/lock_retry.o \
               src/maintenance_log.o \
               src/partition_bounds.o \
               src/partition_manager.o \
               src/partition_detach.o \
               src/partition_convert.o \
               src/matview_manager.o \
               src/maintenance.o \
               src/maintenance_worker.o \
               src/hypothetical_index.o \
               src/index_advisor.o \
               src/advisor_candidates.o \
               src/advisor_whatif.o \
               src/advisor_choice.o \
               src/advisor_coverage.o \
               src/index_hiding.o \
               src/index_validation.o \
               src/predicate_sampler.o \
               src/predicate_store.o \
               src/plan_advice.o
EXTVERSION   = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)
# The install script of the current version is built from src/sql/, one
# file per capability, joined in this order (each after what it uses).
SQL_SRC      = src/sql/profiler.sql \
               src/sql/query_samples.sql \
               src/sql/nplus1.sql \
               src/sql/maintenance.sql \
               src/sql/partitions.sql \
               src/sql/matviews.sql \
               src/sql/index_health.sql \
               src/sql/health.sql \
               src/sql/predicates.sql \
               src/sql/advisor.sql \
               src/sql/index_validation.sql \
               src/sql/plan_advice.sql \
               src/sql/snapshots.sql \
               src/sql/metrics.sql \
               src/sql/report.sql
DATA_built   = $(EXTENSION)--$(EXTVERSION).sql
# Frozen: the 1.0 install script (CREATE EXTENSION ... VERSION '1.0') and
# the upgrade scripts; from now on one small upgrade script per version.
DATA         = smart_dairy_perf--1.0.sql smart_dairy_perf--1.0--1.1.sql \
               smart_dairy_perf--1.1--1.2.sql smart_dairy_perf--1.2--1.3.sql
PGFILEDESC   = "smart_dairy_perf - query profiler and maintenance for PostgreSQL"

REGRESS      = profiler normalize privileges partitions matviews index_health predicates health snapshots report plan_advice advisor_context
REGRESS_OPTS = --inputdir=. --load-extension=smart_dairy_perf

PG_CFLAGS    = -Wextra -Wno-unused-parameter -Wno-sign-compare \
               -Wno-missing-field-initializers

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SRC) $(EXTENSION).control Makefile
	{ printf '%s\n' '-- $@: built by make from the files in src/sql; edit those.' '' \
	    '-- complain if script is sourced in psql, rather than via CREATE EXTENSION' \
	    '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit' ''; \
	  for f in $(SQL_SRC); do cat $$f && echo || exit 1; done; } > $@.tmp
	mv $@.tmp $@
