#!/usr/bin/env bash
# DeepSpeed v0.19.5 with Megatron-DeepSpeed (master 4efb479, 2025-07) for plan llama3-70b on 512 x h100-sxm (dgx-h100), written by shardplan
# strategy: dp=16,tp=8,pp=4,sp,zero=1,recompute=full,mbs=1,schedule=1f1b
# global batch 1024 x 8192 tokens, 64 micro-batches of 1 per replica
# predicted: 1.250 s/step, 100000 tokens/s, MFU 50.0%, peak memory 11.41 GiB/GPU
# run from a Megatron-DeepSpeed checkout on the first node; the hostfile lists the 64 node(s)
# add data, tokenizer (vocabulary 128256), optimizer and checkpoint arguments after the script name
# note: Megatron-DeepSpeed has no RoPE scaling: the model's llama3 scaling (factor 8) is not applied, so the run trains other positions
# note: DeepSpeed's pipeline splits transformer layers evenly by count (partition_method 'type:transformer'); the plan's split is 19,21,21,19 layers per stage, which its prediction assumes
# note: DeepSpeed's pipeline engine reduces gradients after the last backward (ReduceGrads in runtime/pipe/engine.py), not overlapped with it as the plan assumed; re-plan with --no-overlap-grad-reduce to price that
set -euo pipefail
export CUDA_DEVICE_MAX_CONNECTIONS=1
# the launcher passes the variables of .deepspeed_env to the other nodes
grep -qx 'CUDA_DEVICE_MAX_CONNECTIONS=1' .deepspeed_env 2>/dev/null ||
  echo 'CUDA_DEVICE_MAX_CONNECTIONS=1' >> .deepspeed_env

cat > ds_config.json <<'EOF'
{
  "train_batch_size": 1024,
  "train_micro_batch_size_per_gpu": 1,
  "gradient_accumulation_steps": 64,
  "zero_optimization": {
    "stage": 1,
    "overlap_comm": true
  },
  "bf16": {
    "enabled": true
  },
  "data_types": {
    "grad_accum_dtype": "fp32"
  },
  "activation_checkpointing": {
    "partition_activations": false,
    "cpu_checkpointing": false,
    "contiguous_memory_optimization": false,
    "number_checkpoints": null,
    "synchronize_checkpoint_boundary": false,
    "profile": false
  }
}
EOF

MEGATRON_DS_ARGS=(
  --num-layers 80
  --hidden-size 8192
  --num-attention-heads 64
  --ffn-hidden-size 28672
  --seq-length 8192
  --max-position-embeddings 8192
  --num-key-value-heads 8
  --swiglu
  --normalization rmsnorm
  --use-rotary-position-embeddings
  --no-position-embedding
  --rotary-position-embeddings-theta 500000
  --disable-bias-linear
  --untie-embeddings-and-output-weights
  --tensor-model-parallel-size 8
  --pipeline-model-parallel-size 4
  --sequence-parallel
  --micro-batch-size 1
  --global-batch-size 1024
  --bf16
  --use-flash-attn-v2
  --recompute-granularity full
  --recompute-method uniform
  --recompute-num-layers 1
  --deepspeed-activation-checkpointing
  --deepspeed
  --deepspeed_config ds_config.json
  --zero-stage 1
)

deepspeed --num_nodes 64 --num_gpus 8 --hostfile "${HOSTFILE:-hostfile}" \
  pretrain_gpt.py "${MEGATRON_DS_ARGS[@]}" "$@"
