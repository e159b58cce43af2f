#pragma once
// Every op of torch_ext's public C++ API. Each function calls the dispatcher, so autograd,
// autocast and the device kernels apply as for the Python ops.

#include "binary_cross_entropy_with_logits.h"
#include "cross_entropy.h"
#include "elu.h"
#include "hsoftmax.h"
#include "leaky_relu.h"
#include "logsigmoid.h"
#include "prelu.h"
#include "relu.h"
#include "rrelu.h"
#include "sigmoid.h"
#include "softmax.h"
#include "softplus.h"
#include "step.h"
#include "tanh.h"
