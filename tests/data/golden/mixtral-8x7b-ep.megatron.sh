#!/usr/bin/env bash
# Megatron-LM core_v0.15.0 for plan mixtral-8x7b on 64 x h100-sxm (dgx-h100), written by shardplan
# strategy: dp=32,tp=2,pp=1,ep=8,sp,zero=1,recompute=none,mbs=1,schedule=1f1b
# global batch 256 x 32768 tokens, 8 micro-batches of 1 per replica
# predicted: 1.250 s/step, 100000 tokens/s, MFU 50.0%, peak memory 11.41 GiB/GPU
# run on each of the 8 node(s) with NODE_RANK (0..7) and MASTER_ADDR (node 0) set;
# add data, tokenizer (vocabulary 32000), optimizer and checkpoint arguments after the script name
set -euo pipefail
export CUDA_DEVICE_MAX_CONNECTIONS=1

MODEL_ARGS=(
  --num-layers 32
  --hidden-size 4096
  --num-attention-heads 32
  --ffn-hidden-size 14336
  --seq-length 32768
  --max-position-embeddings 32768
  --group-query-attention
  --num-query-groups 8
  --swiglu
  --normalization RMSNorm
  --position-embedding-type rope
  --rotary-base 1000000
  --disable-bias-linear
  --untie-embeddings-and-output-weights
  --num-experts 8
  --moe-router-topk 2
  --moe-ffn-hidden-size 14336
  --moe-grouped-gemm
)

PARALLEL_ARGS=(
  --tensor-model-parallel-size 2
  --pipeline-model-parallel-size 1
  --context-parallel-size 1
  --expert-model-parallel-size 8
  --expert-tensor-parallel-size 1
  --moe-token-dispatcher-type alltoall
  --sequence-parallel
  --use-distributed-optimizer
  --overlap-grad-reduce
  --overlap-param-gather
)

TRAINING_ARGS=(
  --micro-batch-size 1
  --global-batch-size 256
  --bf16
)

torchrun --nnodes 8 --nproc-per-node 8 --node-rank "${NODE_RANK:-0}" \
  --master-addr "${MASTER_ADDR:-localhost}" --master-port "${MASTER_PORT:-6000}" \
  pretrain_gpt.py "${MODEL_ARGS[@]}" "${PARALLEL_ARGS[@]}" "${TRAINING_ARGS[@]}" "$@"
