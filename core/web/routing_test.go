package web

import (
	"testing"

	"github.com/tetherhq/tether/core/routing"
	"github.com/tetherhq/tether/core/rules"
)

// The Routing tab builds some keys from the API's codes (outcomes,
// exclusion reasons, audit actions, target kinds): every code has its words
// in both languages.
func TestRoutingCodesTranslated(t *testing.T) {
	var keys []string
	for o := routing.OutcomeDisabled; o <= routing.OutcomeMatched; o++ {
		keys = append(keys, "rt_outcome_"+o.String())
	}
	for r := routing.ReasonOutsideGroup; r <= routing.ReasonTooManyAttributes; r++ {
		keys = append(keys, "rt_reason_"+r.String())
	}
	for _, a := range []rules.Action{rules.ActionCreate, rules.ActionUpdate, rules.ActionDelete, rules.ActionReorder,
		rules.ActionPackInstall, rules.ActionPackRemove, rules.ActionPackEnable, rules.ActionPackDisable} {
		keys = append(keys, "rt_action_"+string(a))
	}
	for _, k := range []routing.TargetKind{routing.TargetGroup, routing.TargetChannel, routing.TargetTechnicians} {
		keys = append(keys, "rt_kind_"+string(k), "rt_ids_"+string(k))
	}
	for _, k := range keys {
		if en[k] == "" || fr[k] == "" {
			t.Errorf("%q lacks a translation (en %q, fr %q)", k, en[k], fr[k])
		}
	}
}
