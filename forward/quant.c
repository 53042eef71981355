/* TEMPORARY STUB (untracked) until branch kern lands. */
#include "quant.h"
#include <string.h>
#include <math.h>
static float h2f(uint16_t h){uint32_t s=(h>>15)&1,e=(h>>10)&31,m=h&1023;float v;
 if(e==0)v=ldexpf((float)m,-24);else if(e==31)v=m?NAN:INFINITY;else v=ldexpf((float)(m|1024),(int)e-25);return s?-v:v;}
enum ggml_type quant_act_type(enum ggml_type w){(void)w;return GGML_F32;}
bool quant_supported(enum ggml_type w){return w==GGML_F32||w==GGML_F16;}
size_t quant_act_row_bytes(enum ggml_type w,size_t n){(void)w;return 4*n;}
void quant_act_row(enum ggml_type w,const float*x,void*d,size_t n){(void)w;memcpy(d,x,4*n);}
void dequant_row(enum ggml_type t,const void*s,float*d,size_t n){
 if(t==GGML_F32)memcpy(d,s,4*n);else{const uint16_t*h=s;for(size_t i=0;i<n;i++)d[i]=h2f(h[i]);}}
void quant_matmul(enum ggml_type w,const void*W,size_t rb,size_t n,const void*xq,size_t xs,size_t nb,float*Y,size_t ldy,size_t r0,size_t r1){
 float row[4096];
 for(size_t r=r0;r<r1;r++){dequant_row(w,(const char*)W+r*rb,row,n);
  for(size_t b=0;b<nb;b++){const float*x=(const float*)((const char*)xq+b*xs);float s=0;for(size_t i=0;i<n;i++)s+=row[i]*x[i];Y[b*ldy+r]=s;}}}
const char *quant_kernel_name(void){return "stub";}
