#!/usr/bin/env python3
"""Fixture for PolicyGradient's token-level objectives, computed with TRL's own formulas.

The loss code below is TRL's, ported line by line with its variable names (huggingface/trl,
commit f2cd57710ae345ea6428ae95363267fcf38a3dc8, version 1.10.0.dev0):
  - GRPOTrainer._compute_loss (trl/trainer/grpo_trainer.py): importance_sampling_level "token" /
    "sequence", the k3 KL term with beta, loss_type "grpo" / "bnpo" / "dr_grpo" / "dapo", and the
    clip_ratio low / high / region metrics;
  - the GSPO-token branch "sequence_token" (trl/experimental/gspo_token/grpo_trainer.py);
  - the group advantages of _generate_and_score_completions with scale_rewards "group" / "none"
    and trl.trainer.utils.nanstd;
  - PPOTrainer's value loss and GAE loop (trl/experimental/ppo/ppo_trainer.py), on values and
    rewards that are 0 after each sequence's last token.
The trainers themselves need a model, an accelerator and a dataset; the formulas do not, so they
are ported rather than imported. PyTorch computes the gradients (autograd) in float32.

Run: .venv-bench/bin/python Scripts/reference/token_objectives.py  (torch 2.13.0+cpu)
Writes Tests/PolicyGradientTests/Fixtures/token_objectives.json.
"""
import json
import os

import torch

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "../../Tests/PolicyGradientTests/Fixtures/token_objectives.json")


def tensor(t):
    return {"shape": list(t.shape), "data": [float(x) for x in t.detach().reshape(-1).tolist()]}


def nanstd(tensor, dim=None, keepdim=False):  # trl.trainer.utils.nanstd
    mean = torch.nanmean(tensor, dim=dim, keepdim=True)
    variance = torch.nanmean((tensor - mean) ** 2, dim=dim, keepdim=True)
    count = torch.sum(~torch.isnan(tensor), dim=dim, keepdim=True)
    correction = count / (count - 1)
    correction = torch.where(count > 1, correction, torch.full_like(correction, float("nan")))
    variance *= correction
    std = torch.sqrt(variance)
    if keepdim:
        return std
    return std.squeeze(dim) if isinstance(dim, int) else std.squeeze()


def grpo_loss(per_token_logps, old_per_token_logps, ref_per_token_logps, advantages, mask, *, beta, epsilon_low,
              epsilon_high, importance_sampling_level, loss_type, max_completion_length=None, num_items_in_batch=None):
    """GRPOTrainer._compute_loss from the log-probs on (no vLLM, no entropy mask, no delta, one process)."""
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    log_ratio = per_token_logps - old_per_token_logps
    if importance_sampling_level == "token":
        log_importance_weights = log_ratio
    elif importance_sampling_level == "sequence":
        log_importance_weights = (log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        log_importance_weights = log_importance_weights.unsqueeze(-1)
    elif importance_sampling_level == "sequence_token":
        seq_level_log_weight = (log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        seq_level_log_weight = seq_level_log_weight.detach().unsqueeze(-1)
        log_importance_weights = per_token_logps - per_token_logps.detach() + seq_level_log_weight
    coef_1 = torch.exp(log_importance_weights)
    if beta != 0.0:
        per_token_kl = torch.exp(ref_per_token_logps - per_token_logps) - (ref_per_token_logps - per_token_logps) - 1
    coef_2 = torch.clamp(coef_1, 1 - epsilon_low, 1 + epsilon_high)
    per_token_loss1 = coef_1 * advantages
    per_token_loss2 = coef_2 * advantages
    per_token_loss = -torch.min(per_token_loss1, per_token_loss2)
    if beta != 0.0:
        per_token_loss = per_token_loss + beta * per_token_kl
    if loss_type == "grpo":
        loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    elif loss_type == "bnpo":
        loss = (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    elif loss_type == "dr_grpo":
        loss = (per_token_loss * mask).sum() / (per_token_loss.size(0) * max_completion_length)
    elif loss_type == "dapo":
        normalizer = num_items_in_batch.clamp(min=1.0)
        loss = (per_token_loss * mask).sum() / normalizer

    def global_masked_mean(x):
        if x.shape[1] == 1:
            return (x.sum() / x.shape[0]).item()
        return ((x * mask).sum() / mask.sum().clamp(min=1.0)).item()

    is_low_clipped = (coef_1 < 1 - epsilon_low) & (advantages < 0)
    is_high_clipped = (coef_1 > 1 + epsilon_high) & (advantages > 0)
    metrics = {"clip_low": global_masked_mean(is_low_clipped.float()),
               "clip_high": global_masked_mean(is_high_clipped.float())}
    # Not a TRL metric: the share of clipped *tokens* (the GSPO paper's measure), which equals TRL's
    # at token level; at sequence level TRL counts sequences instead.
    for side, clipped in [("low", is_low_clipped), ("high", is_high_clipped)]:
        weighted = (clipped.float().expand_as(mask) * mask).sum() / mask.sum().clamp(min=1.0)
        metrics[f"clip_{side}_tokens"] = weighted.item()
    return loss, metrics


def group_advantages(rewards, num_generations, scale_rewards):  # _generate_and_score_completions
    mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
    mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
    std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
    std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
    advantages = rewards - mean_grouped_rewards
    if scale_rewards != "none":
        advantages = advantages / (std_rewards + 1e-4)
    return advantages


def ppo_value_loss(vpred, mb_values, mb_return, mask, cliprange_value):  # PPOTrainer.train, value part
    vpredclipped = torch.clamp(vpred, mb_values - cliprange_value, mb_values + cliprange_value)
    vf_losses1 = torch.square(vpred - mb_return)
    vf_losses2 = torch.square(vpredclipped - mb_return)
    vf_loss_max = torch.max(vf_losses1, vf_losses2)
    return 0.5 * (vf_loss_max * mask).sum() / mask.sum()  # masked_mean


def ppo_gae(rewards, values, gamma, lam):  # PPOTrainer.train, step 6 (before whitening)
    lastgaelam = 0
    advantages_reversed = []
    gen_length = rewards.shape[1]
    for t in reversed(range(gen_length)):
        nextvalues = values[:, t + 1] if t < gen_length - 1 else 0.0
        delta = rewards[:, t] + gamma * nextvalues - values[:, t]
        lastgaelam = delta + gamma * lam * lastgaelam
        advantages_reversed.append(lastgaelam)
    advantages = torch.stack(advantages_reversed[::-1], axis=1)
    return advantages, advantages + values


def batch(b, t, lengths):
    mask = (torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]).float()
    old = -torch.rand(b, t) * 3 - 0.05
    # New log-probs near the old ones, some far enough to be clipped either side.
    new = old + torch.randn(b, t) * 0.3
    ref = old + torch.randn(b, t) * 0.3
    return new, old, ref, mask


cases = {}
lengths = [5, 2, 7, 4, 0, 6]
b, t = len(lengths), 7
new, old, ref, mask = batch(b, t, lengths)
advantages = torch.tensor([0.8, -1.2, 0.5, -0.3, 1.0, -0.7])  # both signs: both clip sides
settings = [
    ("grpo_token_beta", dict(beta=0.04, epsilon_low=0.2, epsilon_high=0.2, importance_sampling_level="token",
                             loss_type="grpo")),
    ("bnpo_token_clip_higher", dict(beta=0.0, epsilon_low=0.2, epsilon_high=0.28, importance_sampling_level="token",
                                    loss_type="bnpo")),
    ("dr_grpo_token", dict(beta=0.0, epsilon_low=0.2, epsilon_high=0.2, importance_sampling_level="token",
                           loss_type="dr_grpo", max_completion_length=8)),
    ("dapo_token", dict(beta=0.0, epsilon_low=0.2, epsilon_high=0.28, importance_sampling_level="token",
                        loss_type="dapo", num_items_in_batch=mask.sum())),
    ("gspo_sequence", dict(beta=0.0, epsilon_low=3e-4, epsilon_high=4e-4, importance_sampling_level="sequence",
                           loss_type="grpo")),
    ("gspo_sequence_beta", dict(beta=0.04, epsilon_low=0.02, epsilon_high=0.03, importance_sampling_level="sequence",
                                loss_type="bnpo")),
    ("gspo_token", dict(beta=0.0, epsilon_low=3e-4, epsilon_high=4e-4, importance_sampling_level="sequence_token",
                        loss_type="grpo")),
]
for name, kw in settings:
    logps = new.clone().requires_grad_(True)
    loss, metrics = grpo_loss(logps, old, ref, advantages, mask, **kw)
    loss.backward()
    params = {k: (float(v) if not isinstance(v, str) else v) for k, v in kw.items() if k != "num_items_in_batch"}
    params.update(metrics)
    cases[name] = {
        "tensors": {"logps": tensor(new), "old_logps": tensor(old), "ref_logps": tensor(ref),
                    "advantages": tensor(advantages), "mask": tensor(mask), "loss": tensor(loss.reshape(1)),
                    "grad": tensor(logps.grad)},
        "params": params,
    }

rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 0.0, 0.1])
for scale in ["group", "none"]:
    cases[f"group_advantages_{scale}"] = {
        "tensors": {"rewards": tensor(rewards), "advantages": tensor(group_advantages(rewards, 4, scale))},
        "params": {"num_generations": 4, "scale_rewards": scale},
    }

values = torch.randn(b, t) * mask
returns = values + torch.randn(b, t) * 0.5
vpred = (values + torch.randn(b, t) * 0.3).requires_grad_(True)
vf_loss = ppo_value_loss(vpred, values, returns, mask, 0.2)
vf_loss.backward()
cases["ppo_value_loss"] = {
    "tensors": {"vpred": tensor(vpred), "values": tensor(values), "returns": tensor(returns), "mask": tensor(mask),
                "loss": tensor(vf_loss.reshape(1)), "grad": tensor(vpred.grad)},
    "params": {"cliprange_value": 0.2},
}
token_rewards = torch.randn(b, t) * 0.1 * mask
for i, n in enumerate(lengths):
    if n > 0:
        token_rewards[i, n - 1] += float(torch.randn(1))  # the score on the last token
for gamma, lam in [(1.0, 0.95), (0.99, 0.9)]:
    adv, ret = ppo_gae(token_rewards, values, gamma, lam)
    cases[f"ppo_gae_{gamma}_{lam}"] = {
        "tensors": {"rewards": tensor(token_rewards), "values": tensor(values), "mask": tensor(mask),
                    "advantages": tensor(adv * mask), "returns": tensor(ret * mask)},
        "params": {"gamma": gamma, "lam": lam, "lengths": lengths},
    }

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "Scripts/reference/token_objectives.py (TRL f2cd577 formulas, torch "
               + torch.__version__ + ")", "cases": cases}, f, indent=None, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")
