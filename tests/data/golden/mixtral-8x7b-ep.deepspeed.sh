#!/usr/bin/env bash
# DeepSpeed v0.19.5 with Megatron-DeepSpeed (master 4efb479, 2025-07) for plan mixtral-8x7b on 64 x h100-sxm (dgx-h100), written by shardplan
# strategy: dp=32,tp=2,pp=1,ep=8,sp,zero=1,recompute=none,mbs=1,schedule=1f1b
# global batch 256 x 32768 tokens, 8 micro-batches of 1 per replica
# predicted: 1.250 s/step, 100000 tokens/s, MFU 50.0%, peak memory 11.41 GiB/GPU
# run from a Megatron-DeepSpeed checkout on the first node; the hostfile lists the 8 node(s)
# add data, tokenizer (vocabulary 32000), optimizer and checkpoint arguments after the script name
# note: with bf16 and ZeRO-1 DeepSpeed runs BF16_Optimizer, which all-reduces the fp32 gradients after the backward (runtime/engine.py), not reduce-scattered beside it as the plan assumed; re-plan with --no-overlap-grad-reduce to price the wait
# note: DeepSpeed forms expert-parallel groups from data-parallel ranks first (deepspeed/utils/groups.py, TP-strided); the plan's groups are Megatron-Core's
set -euo pipefail
export CUDA_DEVICE_MAX_CONNECTIONS=1
# the launcher passes the variables of .deepspeed_env to the other nodes
grep -qx 'CUDA_DEVICE_MAX_CONNECTIONS=1' .deepspeed_env 2>/dev/null ||
  echo 'CUDA_DEVICE_MAX_CONNECTIONS=1' >> .deepspeed_env

cat > ds_config.json <<'EOF'
{
  "train_batch_size": 256,
  "train_micro_batch_size_per_gpu": 1,
  "gradient_accumulation_steps": 8,
  "zero_optimization": {
    "stage": 1,
    "overlap_comm": true
  },
  "bf16": {
    "enabled": true
  },
  "data_types": {
    "grad_accum_dtype": "fp32"
  }
}
EOF

MEGATRON_DS_ARGS=(
  --num-layers 32
  --hidden-size 4096
  --num-attention-heads 32
  --ffn-hidden-size 14336
  --seq-length 32768
  --max-position-embeddings 32768
  --num-key-value-heads 8
  --swiglu
  --normalization rmsnorm
  --use-rotary-position-embeddings
  --no-position-embedding
  --rotary-position-embeddings-theta 1000000
  --disable-bias-linear
  --untie-embeddings-and-output-weights
  --num-experts 8
  --topk 2
  --expert-interval 1
  --moe-expert-parallel-size 8
  --create-moe-param-group
  --tensor-model-parallel-size 2
  --pipeline-model-parallel-size 1
  --no-pipeline-parallel
  --sequence-parallel
  --micro-batch-size 1
  --global-batch-size 256
  --bf16
  --use-flash-attn-v2
  --deepspeed
  --deepspeed_config ds_config.json
  --zero-stage 1
)

deepspeed --num_nodes 8 --num_gpus 8 --hostfile "${HOSTFILE:-hostfile}" \
  pretrain_gpt.py "${MEGATRON_DS_ARGS[@]}" "$@"
