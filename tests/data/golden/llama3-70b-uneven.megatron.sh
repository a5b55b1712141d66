#!/usr/bin/env bash
# Megatron-LM core_v0.15.0 for plan llama3-70b on 512 x h100-sxm (dgx-h100), written by shardplan
# strategy: dp=16,tp=8,pp=4,sp,zero=1,recompute=full,mbs=1,schedule=1f1b
# global batch 1024 x 8192 tokens, 64 micro-batches of 1 per replica
# predicted: 1.250 s/step, 100000 tokens/s, MFU 50.0%, peak memory 11.41 GiB/GPU
# run on each of the 64 node(s) with NODE_RANK (0..63) and MASTER_ADDR (node 0) set;
# add data, tokenizer (vocabulary 128256), optimizer and checkpoint arguments after the script name
set -euo pipefail
export CUDA_DEVICE_MAX_CONNECTIONS=1

MODEL_ARGS=(
  --num-layers 80
  --hidden-size 8192
  --num-attention-heads 64
  --ffn-hidden-size 28672
  --seq-length 8192
  --max-position-embeddings 8192
  --group-query-attention
  --num-query-groups 8
  --swiglu
  --normalization RMSNorm
  --position-embedding-type rope
  --rotary-base 500000
  --use-rope-scaling
  --disable-bias-linear
  --untie-embeddings-and-output-weights
)

PARALLEL_ARGS=(
  --tensor-model-parallel-size 8
  --pipeline-model-parallel-size 4
  --context-parallel-size 1
  --pipeline-model-parallel-layout 'Et*19|t*21|t*21|t*19L'
  --sequence-parallel
  --use-distributed-optimizer
  --overlap-grad-reduce
  --overlap-param-gather
)

TRAINING_ARGS=(
  --micro-batch-size 1
  --global-batch-size 1024
  --bf16
  --recompute-granularity full
  --recompute-method uniform
  --recompute-num-layers 1
)

torchrun --nnodes 64 --nproc-per-node 8 --node-rank "${NODE_RANK:-0}" \
  --master-addr "${MASTER_ADDR:-localhost}" --master-port "${MASTER_PORT:-6000}" \
  pretrain_gpt.py "${MODEL_ARGS[@]}" "${PARALLEL_ARGS[@]}" "${TRAINING_ARGS[@]}" "$@"
