"""What the RL twins share (rlhf_iteration.py, grpo_step.py): TRL-style batched sampling with a KV
cache of concatenated tensors, and the response tokens' log-probs from one forward over the padded
batch."""
import torch
import torch.nn.functional as F


def sample(policy, prompts, layers, new_tokens):
    """new_tokens tokens for each row of the left-padded prompts: torch.multinomial on
    softmax(logits), each token's log-prob kept. Returns (tokens, log-probs), both (B, new_tokens)."""
    with torch.inference_mode():
        caches = [{} for _ in range(layers)]
        logits = policy(prompts, caches)[:, -1]
        tokens, logprobs = [], []
        for step in range(new_tokens):
            token = torch.multinomial(F.softmax(logits, -1), 1)
            logprobs.append(F.log_softmax(logits, -1).gather(1, token))
            tokens.append(token)
            if step < new_tokens - 1:
                logits = policy(token, caches)[:, -1]
        return torch.cat(tokens, 1), torch.cat(logprobs, 1)


def response_logprobs(model, ids, prompt_width):
    """The log-probs of the response tokens (ids[:, prompt_width:]) and their logits."""
    logits = model(ids)[:, prompt_width - 1:-1]
    return F.log_softmax(logits, -1).gather(2, ids[:, prompt_width:, None]).squeeze(-1), logits
