#!/usr/bin/env bash
# Megatron-LM core_v0.15.0 for plan llama3-8b on 64 x h100-sxm (dgx-h100), written by shardplan
# strategy: dp=16,tp=2,pp=1,cp=2,sp,zero=3,recompute=selective,mbs=1,schedule=1f1b
# global batch 256 x 8192 tokens, 16 micro-batches of 1 per replica
# predicted: 1.250 s/step, 100000 tokens/s, MFU 50.0%, peak memory 11.41 GiB/GPU
# run on each of the 8 node(s) with NODE_RANK (0..7) and MASTER_ADDR (node 0) set;
# add data, tokenizer (vocabulary 128256), optimizer and checkpoint arguments after the script name
set -euo pipefail
unset CUDA_DEVICE_MAX_CONNECTIONS

MODEL_ARGS=(
  --num-layers 32
  --hidden-size 4096
  --num-attention-heads 32
  --ffn-hidden-size 14336
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
  --tensor-model-parallel-size 2
  --pipeline-model-parallel-size 1
  --context-parallel-size 2
  --sequence-parallel
  --use-megatron-fsdp
  --data-parallel-sharding-strategy optim_grads_params
  --use-distributed-optimizer
  --no-gradient-accumulation-fusion
  --ckpt-format fsdp_dtensor
  --overlap-grad-reduce
  --overlap-param-gather
)

TRAINING_ARGS=(
  --micro-batch-size 1
  --global-batch-size 256
  --bf16
  --recompute-granularity selective
)

torchrun --nnodes 8 --nproc-per-node 8 --node-rank "${NODE_RANK:-0}" \
  --master-addr "${MASTER_ADDR:-localhost}" --master-port "${MASTER_PORT:-6000}" \
  pretrain_gpt.py "${MODEL_ARGS[@]}" "${PARALLEL_ARGS[@]}" "${TRAINING_ARGS[@]}" "$@"
