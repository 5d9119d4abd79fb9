// Package torchpt reads PyTorch state dicts saved by torch.save (the zip format of torch ≥ 1.6:
// pytorch_model.bin, model.pth): a top-level dict of tensor name → tensor, whose pickle is read by a
// restricted unpickler that builds only dicts, lists, tuples, strings, numbers and tensors, and
// refuses every other Python global (so a file cannot run code, unlike torch.load). Tensor data is
// read from the archive's storages, strided views gathered into row-major order.
package torchpt
