# Operator shortcuts from the operations guide, each a thin wrapper around the `selftest` script.
#
# Make reports any failing recipe as exit 2, whatever the command's own code (0/1/2): CI gates
# that need the selftest's exit code should call `selftest ...` directly.

SELFTEST ?= selftest
ENV ?=
HOURS ?= 24

# Passed through the environment, so quotes in a reason cannot break the command line.
export STEP REASON APPROVER HOURS

.PHONY: selftest kernel-smoke selftest-fast selftest-degraded selftest-doctor selftest-plan \
	selftest-degradations selftest-report override-create override-revoke override-list

selftest: ## All steps; ENV=dev|staging|prod|strict|degraded picks the policy (default strict)
	$(SELFTEST) run $(if $(ENV),--env $(ENV))

kernel-smoke: ## Kernel steps only, without pytest (the pre-commit fast path)
	$(SELFTEST) smoke

selftest-fast: kernel-smoke

selftest-degraded: ## Only kernel failures block; the rest is logged as degradations
	$(SELFTEST) run --env degraded

selftest-doctor: ## HARNESS_ISSUE (toolchain) vs SERVICE_ISSUE (code) vs HEALTHY
	$(SELFTEST) doctor

selftest-plan: ## The plan, running nothing
	$(SELFTEST) plan

selftest-degradations: ## The degradation log, with the concerning patterns
	$(SELFTEST) degradations
	$(SELFTEST) degradations --concerning

selftest-report: ## The last report as Markdown
	$(SELFTEST) report --md

override-create: ## STEP= REASON= APPROVER= [HOURS=24]: an audited waiver
	@if [ -z "$$STEP" ] || [ -z "$$REASON" ] || [ -z "$$APPROVER" ]; then \
	  echo "usage: make override-create STEP=<id> REASON=<why> APPROVER=<who> [HOURS=24]" >&2; \
	  exit 2; \
	fi
	$(SELFTEST) waiver create "$$STEP" --reason "$$REASON" --approver "$$APPROVER" --hours "$$HOURS"

override-revoke: ## STEP=: end a step's waiver now
	@if [ -z "$$STEP" ]; then echo "usage: make override-revoke STEP=<id>" >&2; exit 2; fi
	$(SELFTEST) waiver revoke "$$STEP"

override-list: ## Active waivers
	$(SELFTEST) waiver list
