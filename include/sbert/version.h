#pragma once
#define SBERT_VERSION_STRING "0.1.0"
