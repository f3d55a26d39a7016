#!/usr/bin/env python3
"""Fixture for the DPO package's losses, computed with TRL's own formulas.

The loss code below is TRL's, ported line by line with its variable names (huggingface/trl,
commit f2cd57710ae345ea6428ae95363267fcf38a3dc8, version 1.10.0.dev0):
  - DPOTrainer._compute_loss (trl/trainer/dpo_trainer.py), f_divergence_type "reverse_kl", after the
    per-sequence log-probs are summed: loss_type "sigmoid" (DPO) and "ipo" (IPO, with TRL's
    division of each log-ratio by its completion length); rewards/chosen, rewards/rejected,
    rewards/margins and rewards/accuracies as it logs them (beta * log-ratio);
  - CPOTrainer.cpo_loss (trl/experimental/cpo/cpo_trainer.py): loss_type "simpo" (SimPO: no
    reference, length-averaged log-probs, target margin simpo_gamma), and its "sigmoid" with
    label_smoothing applied to DPO's log-ratio difference: the conservative DPO of Mitchell (2023),
    which TRL's DPOTrainer applied the same way before its loss types were split.
The trainers need a model and a dataset; the formulas do not, so they are ported rather than
imported. PyTorch computes the gradients (autograd) in float32, with respect to the policy's
summed log-probs of the chosen and rejected responses.

Run: .venv-bench/bin/python Scripts/reference/dpo_objectives.py  (torch 2.13.0+cpu)
Writes Tests/DPOTests/Fixtures/dpo_objectives.json.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "../../Tests/DPOTests/Fixtures/dpo_objectives.json")


def values(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def dpo_trainer_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_len, rejected_len,
                     *, beta, loss_type):
    """DPOTrainer._compute_loss from the summed log-probs on (reverse KL, one loss type, no weighting)."""
    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps
    chosen_scores = chosen_logratios
    rejected_scores = rejected_logratios
    delta_score = chosen_scores - rejected_scores
    if loss_type == "sigmoid":
        per_sequence_loss = -F.logsigmoid(beta * delta_score)
    elif loss_type == "ipo":
        chosen_avg_score = chosen_scores / chosen_len.clamp(min=1.0)
        rejected_avg_score = rejected_scores / rejected_len.clamp(min=1.0)
        ipo_delta = chosen_avg_score - rejected_avg_score
        per_sequence_loss = (ipo_delta - 1 / (2 * beta)) ** 2
    loss = per_sequence_loss.mean()
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return loss, chosen_rewards, rejected_rewards


def conservative_dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *, beta,
                          label_smoothing):
    """CPOTrainer.cpo_loss's "sigmoid" with label smoothing, on DPO's log-ratio difference."""
    logits = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
    losses = (
        -F.logsigmoid(beta * logits) * (1 - label_smoothing)
        - F.logsigmoid(-beta * logits) * label_smoothing
    )
    chosen_rewards = beta * (chosen_logps - ref_chosen_logps).detach()
    rejected_rewards = beta * (rejected_logps - ref_rejected_logps).detach()
    return losses.mean(), chosen_rewards, rejected_rewards


def simpo_loss(chosen_logps, rejected_logps, chosen_len, rejected_len, *, beta, simpo_gamma):
    """CPOTrainer.cpo_loss "simpo" (label_smoothing 0), with average_log_prob=True as it calls it."""
    policy_chosen_logps = chosen_logps / chosen_len
    policy_rejected_logps = rejected_logps / rejected_len
    logits = policy_chosen_logps - policy_rejected_logps
    gamma_logratios = simpo_gamma / beta
    logits = logits - gamma_logratios
    losses = -F.logsigmoid(beta * logits)
    chosen_rewards = beta * policy_chosen_logps.detach()
    rejected_rewards = beta * policy_rejected_logps.detach()
    return losses.mean(), chosen_rewards, rejected_rewards


def case(name, kind, **settings):
    n = 6
    chosen_len = torch.randint(1, 12, (n,)).float()
    rejected_len = torch.randint(1, 12, (n,)).float()
    # Summed log-probs of plausible size: about -1.5 nats per token, the reference close to the policy.
    chosen_logps = (-1.5 * chosen_len + torch.randn(n)).requires_grad_()
    rejected_logps = (-1.5 * rejected_len + torch.randn(n)).requires_grad_()
    ref_chosen_logps = chosen_logps.detach() + 0.5 * torch.randn(n)
    ref_rejected_logps = rejected_logps.detach() + 0.5 * torch.randn(n)
    beta = settings["beta"]
    if kind in ("sigmoid", "ipo"):
        loss, cr, rr = dpo_trainer_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_len,
                                        rejected_len, beta=beta, loss_type=kind)
    elif kind == "conservative":
        loss, cr, rr = conservative_dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps,
                                             beta=beta, label_smoothing=settings["label_smoothing"])
    else:
        loss, cr, rr = simpo_loss(chosen_logps, rejected_logps, chosen_len, rejected_len, beta=beta,
                                  simpo_gamma=settings["simpo_gamma"])
    loss.backward()
    return {
        "name": name, "kind": kind, **settings,
        "chosen_logps": values(chosen_logps), "rejected_logps": values(rejected_logps),
        "ref_chosen_logps": values(ref_chosen_logps), "ref_rejected_logps": values(ref_rejected_logps),
        "chosen_lengths": [int(x) for x in chosen_len.tolist()], "rejected_lengths": [int(x) for x in rejected_len.tolist()],
        "loss": float(loss.detach()), "grad_chosen": values(chosen_logps.grad), "grad_rejected": values(rejected_logps.grad),
        "rewards_chosen": float(cr.mean()), "rewards_rejected": float(rr.mean()),
        "rewards_margins": float((cr - rr).mean()), "rewards_accuracies": float((cr > rr).float().mean()),
    }


cases = [
    case("dpo beta 0.1", "sigmoid", beta=0.1),
    case("dpo beta 0.5", "sigmoid", beta=0.5),
    case("cdpo eps 0.1", "conservative", beta=0.1, label_smoothing=0.1),
    case("ipo tau 0.1", "ipo", beta=0.1),
    case("ipo tau 1", "ipo", beta=1.0),
    case("simpo beta 2 gamma 1", "simpo", beta=2.0, simpo_gamma=1.0),
]
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "Scripts/reference/dpo_objectives.py (TRL f2cd577 formulas, torch " + torch.__version__ + ")",
               "cases": cases}, f, indent=1)
print(f"{OUT}: {len(cases)} cases")
